"""The composer's YouTube checks: YouTube is one of the composer's networks, a post without a
video is refused there, and the title and description made from the text are explained."""

from __future__ import annotations

import pytest
from django.utils import translation

from tertulia.content import composer
from tertulia.networks.models import Network, SocialAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def youtube_account(brand_a):
    brand, _people = brand_a
    return brand, SocialAccount(brand=brand, network=Network.YOUTUBE, handle="@cafetertulia",
                                status=SocialAccount.Status.CONNECTED)


def _issues(report, network=Network.YOUTUBE):
    return {i.code: i for i in report.networks[network].issues}


def test_youtube_is_in_the_composer_and_needs_a_video(youtube_account):
    brand, account = youtube_account
    with translation.override("en"):
        report = composer.validate_post(brand, "Receta de café\nPaso a paso", accounts=[account], spelling=False)
    assert Network.YOUTUBE in composer.NETWORK_ORDER and Network.YOUTUBE in report.networks
    issue = _issues(report)["needs_video"]
    assert issue.level == "error" and "attach one" in issue.message
    assert report.has_errors


def test_a_youtube_variant_without_an_account_shows_its_checks_too(youtube_account):
    brand, _account = youtube_account
    report = composer.validate_post(brand, "hola", {"youtube": ""}, networks=[Network.YOUTUBE], spelling=False)
    assert "needs_video" in _issues(report) and not report.networks[Network.YOUTUBE].selected


def test_title_and_description_made_from_the_text_are_explained(youtube_account):
    brand, account = youtube_account
    text = "T" * 120 + "\n" + "ñ" * 2600
    with translation.override("en"):
        report = composer.validate_post(brand, text, accounts=[account], spelling=False)
        issues = _issues(report)
        assert "120 characters" in issues["youtube_title_cut"].message
        assert "5,000" in issues["youtube_description_cut"].message or "5000" in issues[
            "youtube_description_cut"].message
        assert issues["youtube_title_cut"].level == "warning"
        empty = composer.validate_post(brand, "   ", accounts=[account], spelling=False)
        assert "youtube_no_title" in _issues(empty)
    with translation.override("es"):
        report = composer.validate_post(brand, text, accounts=[account], spelling=False)
        assert "se cortará" in _issues(report)["youtube_title_cut"].message
