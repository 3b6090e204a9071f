"""The composer and the publish checks use each Mastodon account's own instance limit
(``SocialAccount.server_limits``, from ``/api/v2/instance``), the strictest when several
accounts are chosen, and 500/23 when nothing is stored."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from tertulia.content import composer
from tertulia.core.services import Ctx
from tertulia.networks import services as account_services
from tertulia.publishing.services import check_text, target_problems

pytestmark = pytest.mark.django_db

TEXT_800 = ("Una frase de prueba para el límite del servidor. " * 20)[:795] + " fin."
LINK = "https://example.com/" + "a" * 200


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def world(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["owner"], via="test")

    def account(handle, limits):
        acc = account_services.do_add_account(ctx, brand, network="mastodon", handle=handle,
                                              base_url="https://" + handle.rsplit("@", 1)[1], access_token="t")
        if limits is not None:
            account_services.do_set_server_limits(ctx, acc, limits)
        return acc

    return brand, ctx, account


def text_errors(report, network="mastodon"):
    return [i for i in report.networks[network].errors if i.source == "text"]


def test_a_1000_instance_takes_800_characters_and_a_500_one_refuses(world):
    brand, ctx, account = world
    assert len(TEXT_800) == 800
    big = account("@cm@big.example", {"max_characters": 1000, "characters_reserved_per_url": 23})
    small = account("@cm@small.example", {"max_characters": 500})

    report = composer.validate_post(brand, TEXT_800, accounts=[big], spelling=False)
    assert not text_errors(report)
    counter = report.networks["mastodon"].counters[0]
    assert (counter.value, counter.limit) == (800, 1000)

    report = composer.validate_post(brand, TEXT_800, accounts=[small], spelling=False)
    [issue] = text_errors(report)
    assert "800" in issue.message and "500" in issue.message

    ok = composer.do_create_draft(ctx, brand, text=TEXT_800, accounts=[big])
    assert target_problems(ok.targets.get()) == {}
    check_text(ok.targets.get())
    refused = composer.do_create_draft(ctx, brand, text=TEXT_800, accounts=[small])
    problems = target_problems(refused.targets.get())
    assert problems["text"] and "500" in str(problems["text"][0])
    with pytest.raises(ValidationError):
        check_text(refused.targets.get())


def test_several_accounts_use_the_strictest_and_name_it(world):
    brand, ctx, account = world
    big = account("@cm@big.example", {"max_characters": 1000})
    mid = account("@cm@mid.example", {"max_characters": 700})
    report = composer.validate_post(brand, TEXT_800, accounts=[big, mid], spelling=False)
    [issue] = text_errors(report)
    assert "@cm@mid.example" in issue.message and "700" in issue.message
    assert report.networks["mastodon"].counters[0].limit == 700
    assert any("@cm@mid.example" in m for m in report.error_messages())
    # The publish check is per account: the 1000 one is fine, the 700 one is not.
    post = composer.do_create_draft(ctx, brand, text=TEXT_800, accounts=[big, mid])
    by_account = {t.account_id: target_problems(t) for t in post.targets.all()}
    assert by_account[big.pk] == {} and by_account[mid.pk]["text"]


def test_equal_limits_keep_the_plain_message(world):
    brand, _ctx, account = world
    a = account("@a@one.example", None)
    b = account("@b@two.example", {"max_characters": 500})
    report = composer.validate_post(brand, "x" * 501, accounts=[a, b], spelling=False)
    [issue] = text_errors(report)
    assert "Mastodon allows 500" in issue.message


def test_accounts_without_limits_keep_500_and_23(world):
    brand, ctx, account = world
    plain = account("@cm@plain.example", None)
    report = composer.validate_post(brand, "y" * 501, accounts=[plain], spelling=False)
    assert text_errors(report)
    # A long link counts as 23 by default...
    text = "z" * 470 + " " + LINK
    assert not text_errors(composer.validate_post(brand, text, accounts=[plain], spelling=False))
    # ...and as the instance says when it says otherwise.
    wide = account("@cm@wide.example", {"max_characters": 500, "characters_reserved_per_url": 100})
    assert text_errors(composer.validate_post(brand, text, accounts=[wide], spelling=False))
    post = composer.do_create_draft(ctx, brand, text=text, accounts=[wide])
    assert target_problems(post.targets.get())["text"]


def test_first_comment_uses_the_instance_limit(world):
    brand, ctx, account = world
    big = account("@cm@big.example", {"max_characters": 1000})
    post = composer.do_create_draft(ctx, brand, text="Hola", accounts=[big], first_comment=TEXT_800)
    assert "first_comment" not in target_problems(post.targets.get())
    small = account("@cm@small.example", None)
    post = composer.do_create_draft(ctx, brand, text="Hola", accounts=[small], first_comment=TEXT_800)
    assert target_problems(post.targets.get())["first_comment"]


def test_composer_page_reports_the_instance_limit(world, client):
    """The composer's live check (the page the team types in) uses the same numbers."""
    from django.urls import reverse

    brand, ctx, account = world
    big = account("@cm@big.example", {"max_characters": 1000})
    client.force_login(ctx.user)
    data = {"text": TEXT_800, "accounts": [big.pk], "format": "text", "action": "save"}
    page = client.post(reverse("compose_validate", args=[brand.pk]), data).content.decode()
    assert "800/1000" in page
    small = account("@cm@small.example", {"max_characters": 500})
    data["accounts"] = [big.pk, small.pk]
    page = client.post(reverse("compose_validate", args=[brand.pk]), data).content.decode()
    assert "800/500" in page and "@cm@small.example" in page
