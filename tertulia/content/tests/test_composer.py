"""The composer's services (content.composer): drafts, variants that inherit, the re-review
rule, tenant checks, and the per-network report (text, images, guidelines, spelling)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from tertulia.content import composer, services
from tertulia.content.models import ApprovalPolicy, Post, PostVariant
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import generated_png
from tertulia.networks.services import do_add_account
from tertulia.publishing.models import PostTarget
from tertulia.strategy import services as strategy_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    brand, people = brand_a
    owner = Ctx(people["owner"])
    accounts = {
        "x": do_add_account(owner, brand, network="x", handle="alpha"),
        "bluesky": do_add_account(owner, brand, network="bluesky", handle="alpha.bsky.social"),
        "instagram": do_add_account(owner, brand, network="instagram", handle="alpha_ig"),
        "telegram": do_add_account(owner, brand, network="telegram", handle="@alphachan"),
    }
    return brand, people, accounts


def _approved(ctx, brand, accounts, manager, *, when=None, text="Hola mundo"):
    from tertulia.content import approvals

    post = composer.do_create_draft(ctx, brand, text=text, accounts=accounts, scheduled_at=when)
    approvals.do_submit_for_review(ctx, post)
    post.refresh_from_db()
    approvals.do_approve(manager, post)
    post.refresh_from_db()
    return post


# --- Drafts and variants -------------------------------------------------------------------

def test_a_draft_keeps_everything_even_with_errors(setup):
    brand, people, accounts = setup
    cm = Ctx(people["community_manager"])
    post = composer.do_create_draft(cm, brand, text="a" * 400, accounts=[accounts["x"], accounts["bluesky"]],
                                    variants={"x": "Corto para X", "bluesky": None}, first_comment="Más info")
    assert post.state == Post.State.DRAFT and post.text == "a" * 400 and post.first_comment == "Más info"
    variants = {v.network: v for v in post.variants.all()}
    assert variants["x"].is_custom and variants["x"].effective_text == "Corto para X"
    assert not variants["bluesky"].is_custom and variants["bluesky"].effective_text == "a" * 400
    assert set(post.targets.values_list("state", flat=True)) == {PostTarget.State.DRAFT}
    # The report says what is wrong, but the draft is there.
    report = composer.report_for_post(post)
    assert "too_long" in [i.code for i in report.networks["bluesky"].errors]
    assert not report.networks["x"].errors
    assert AuditEvent.objects.filter(action="post.create", object_id=str(post.pk)).exists()


def test_a_draft_needs_something_and_no_accounts_is_fine(setup):
    brand, people, _accounts = setup
    cm = Ctx(people["community_manager"])
    with pytest.raises(ValidationError):
        composer.do_create_draft(cm, brand, text="   ")
    post = composer.do_create_draft(cm, brand, text="Idea a medio escribir")
    assert post.targets.count() == 0
    assert composer.report_for_post(post).general[0].code == "no_accounts"


def test_variants_inherit_until_edited_and_reset(setup):
    brand, people, accounts = setup
    cm = Ctx(people["community_manager"])
    post = composer.do_create_draft(cm, brand, text="Texto común", accounts=[accounts["x"], accounts["bluesky"]])
    composer.do_set_variant(cm, post, "x", "Solo para X")
    composer.do_update_post(cm, post, text="Texto común nuevo")
    x = PostVariant.objects.get(post=post, network="x")
    bsky = PostVariant.objects.get(post=post, network="bluesky")
    x.post.refresh_from_db()
    assert x.is_custom and x.effective_text == "Solo para X"
    assert not bsky.is_custom and bsky.effective_text == "Texto común nuevo"  # follows the master
    composer.do_reset_variant(cm, post, "x")
    x.refresh_from_db()
    assert not x.is_custom and x.text == "" and x.effective_text == "Texto común nuevo"
    # A variant typed identical to the master is not a fork.
    composer.do_set_variant(cm, post, "bluesky", "Texto común nuevo")
    assert not PostVariant.objects.get(post=post, network="bluesky").is_custom


def test_update_bumps_the_version_and_refuses_stale_edits(setup):
    brand, people, accounts = setup
    cm = Ctx(people["community_manager"])
    post = composer.do_create_draft(cm, brand, text="v1", accounts=[accounts["x"]])
    assert post.version == 1
    composer.do_update_post(cm, post, text="v2", expected_version=1)
    post.refresh_from_db()
    assert post.version == 2
    with pytest.raises(ValidationError) as err:
        composer.do_update_post(cm, post, text="v3 on an old page", expected_version=1)
    assert err.value.code == "changed"
    post.refresh_from_db()
    assert post.text == "v2"
    # Saving the same content again changes nothing (no new version, no audit noise).
    composer.do_update_post(cm, post, text="v2")
    post.refresh_from_db()
    assert post.version == 2


def test_accounts_and_media_can_change(setup):
    brand, people, accounts = setup
    cm = Ctx(people["community_manager"])
    img1 = services.do_upload_media(cm, brand, generated_png(1080, 1080, (1, 2, 3)), alt_text="uno")
    img2 = services.do_upload_media(cm, brand, generated_png(1080, 1350, (4, 5, 6)), alt_text="dos")
    post = composer.do_create_draft(cm, brand, text="Fotos", accounts=[accounts["x"]], media=[img2, img1])
    assert list(post.attachments.values_list("asset_id", flat=True)) == [img2.pk, img1.pk]
    composer.do_update_post(cm, post, accounts=[accounts["bluesky"], accounts["instagram"]], media=[img1])
    assert set(post.targets.values_list("account__network", flat=True)) == {"bluesky", "instagram"}
    assert list(post.attachments.values_list("asset_id", flat=True)) == [img1.pk]
    assert {"bluesky", "instagram"} <= set(post.variants.values_list("network", flat=True))


def test_wrong_tenant_rows_are_refused(setup, brand_b, settings):
    brand, people, accounts = setup
    b_brand, b_people = brand_b
    cm = Ctx(people["community_manager"])
    b_owner = Ctx(b_people["owner"])
    b_account = do_add_account(b_owner, b_brand, network="x", handle="beta")
    b_media = services.do_upload_media(b_owner, b_brand, generated_png(), alt_text="beta")
    b_pillar = strategy_services.do_save_pillar(b_owner, b_brand, name="Beta pillar", target_share=10)
    b_campaign = services.do_create_campaign(b_owner, b_brand, name="Beta campaign")
    for kwargs in ({"accounts": [b_account]}, {"media": [b_media]}, {"pillar": b_pillar}, {"campaign": b_campaign}):
        with pytest.raises(PermissionDenied):
            composer.do_create_draft(cm, brand, text="Hola", **kwargs)
    post = composer.do_create_draft(cm, brand, text="Hola", accounts=[accounts["x"]])
    with pytest.raises(PermissionDenied):
        composer.do_update_post(cm, post, accounts=[accounts["x"], b_account])
    assert post.targets.count() == 1
    # And people without COMPOSE cannot write at all.
    with pytest.raises(PermissionDenied):
        composer.do_create_draft(Ctx(people["analyst"]), brand, text="Hola")
    with pytest.raises(PermissionDenied):
        composer.do_update_post(Ctx(b_people["community_manager"]), post, text="intrusion")


# --- Back to review ---------------------------------------------------------------------------

def test_editing_an_approved_post_sends_it_back_to_review(setup):
    brand, people, accounts = setup
    cm, manager = Ctx(people["community_manager"]), Ctx(people["manager"])
    when = timezone.now() + timedelta(days=2)
    post = _approved(cm, brand, [accounts["x"], accounts["bluesky"]], manager, when=when)
    assert post.state == Post.State.SCHEDULED
    version = post.version
    target_versions = dict(post.targets.values_list("pk", "version"))
    composer.do_update_post(cm, post, variants={"x": "Texto distinto para X"})
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL
    assert post.version > version
    for target in post.targets.all():
        assert target.state == PostTarget.State.PENDING_APPROVAL
        assert target.version > target_versions[target.pk]  # a queued publish task now does nothing
    assert AuditEvent.objects.filter(action="post.back_to_review", object_id=str(post.pk)).exists()
    # The approvers hear about it (in their language), the editor does not.
    from tertulia.core.models import Notification

    notes = Notification.objects.filter(kind="post.back_to_review")
    assert set(notes.values_list("recipient", flat=True)) == {people["owner"].pk, people["manager"].pk}


def test_schedule_change_alone_does_not_need_review(setup):
    brand, people, accounts = setup
    cm, manager = Ctx(people["community_manager"]), Ctx(people["manager"])
    post = _approved(cm, brand, [accounts["x"]], manager, when=timezone.now() + timedelta(days=2))
    later = timezone.now() + timedelta(days=5)
    composer.do_update_post(cm, post, scheduled_at=later)
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED
    assert post.targets.get().due_at == later


def test_a_past_time_on_a_scheduled_post_is_refused_not_published_at_once(setup):
    """A date typo on an approved post must not send it right away."""
    from django.core.exceptions import ValidationError

    brand, people, accounts = setup
    cm, manager = Ctx(people["community_manager"]), Ctx(people["manager"])
    when = timezone.now() + timedelta(days=2)
    post = _approved(cm, brand, [accounts["x"]], manager, when=when)
    with pytest.raises(ValidationError):
        composer.do_update_post(cm, post, scheduled_at=timezone.now() - timedelta(days=1))
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED and post.scheduled_at == when
    assert post.targets.get().due_at == when


def test_a_failed_target_goes_back_to_review_with_its_post_and_cannot_be_retried(setup):
    """Editing after approval holds every target, failed ones too: retrying one must not send
    the new, unapproved text."""
    from django.core.exceptions import ValidationError

    from tertulia.publishing import services as publishing

    brand, people, accounts = setup
    cm, manager = Ctx(people["community_manager"]), Ctx(people["manager"])
    post = _approved(cm, brand, [accounts["x"], accounts["bluesky"]], manager,
                     when=timezone.now() + timedelta(days=2))
    failed = post.targets.get(account=accounts["bluesky"])
    PostTarget.objects.filter(pk=failed.pk).update(state=PostTarget.State.NEEDS_ATTENTION)
    composer.do_update_post(cm, post, text="Texto nuevo sin aprobar")
    failed.refresh_from_db()
    assert failed.state == PostTarget.State.PENDING_APPROVAL
    PostTarget.objects.filter(pk=failed.pk).update(state=PostTarget.State.NEEDS_ATTENTION)  # even if it were
    failed.refresh_from_db()
    with pytest.raises(ValidationError):
        publishing.do_retry_now(cm, failed)
    with pytest.raises(ValidationError):
        publishing.do_schedule(cm, failed, due_at=timezone.now() + timedelta(hours=1))
    # And the engine's claim refuses it whatever queued it.
    from tertulia.publishing import engine

    PostTarget.objects.filter(pk=failed.pk).update(state=PostTarget.State.SCHEDULED,
                                                   due_at=timezone.now() - timedelta(seconds=1))
    failed.refresh_from_db()
    assert engine.claim(failed, timezone.now()) is None
    failed.refresh_from_db()
    assert failed.state == PostTarget.State.SCHEDULED


def test_no_review_when_the_policy_says_so(setup):
    brand, people, accounts = setup
    cm, manager = Ctx(people["community_manager"]), Ctx(people["manager"])
    ApprovalPolicy.objects.create(brand=brand, required=True, reapprove_on_edit=False)
    post = _approved(cm, brand, [accounts["x"]], manager)
    assert post.state == Post.State.APPROVED
    composer.do_update_post(cm, post, text="Cambio menor")
    post.refresh_from_db()
    assert post.state == Post.State.APPROVED and post.text == "Cambio menor"
    assert not AuditEvent.objects.filter(action="post.back_to_review").exists()


def test_published_posts_cannot_be_edited_or_deleted(setup):
    brand, people, accounts = setup
    cm = Ctx(people["community_manager"])
    post = composer.do_create_draft(cm, brand, text="Hola", accounts=[accounts["x"]])
    Post.objects.filter(pk=post.pk).update(state=Post.State.PUBLISHED)
    post.refresh_from_db()
    with pytest.raises(ValidationError):
        composer.do_update_post(cm, post, text="Otra cosa")
    with pytest.raises(ValidationError) as err:
        composer.do_delete_post(cm, post)
    assert err.value.code == "conflict"
    draft = composer.do_create_draft(cm, brand, text="Borrador", accounts=[accounts["x"]])
    composer.do_delete_post(cm, draft)
    assert not Post.objects.filter(pk=draft.pk).exists()


def test_submit_refuses_errors_and_then_goes_to_review(setup):
    brand, people, accounts = setup
    cm = Ctx(people["community_manager"])
    post = composer.do_create_draft(cm, brand, text="x" * 281, accounts=[accounts["x"]])
    with pytest.raises(ValidationError) as err:
        composer.submit_for_review(cm, post)
    assert any("281" in m for m in err.value.messages)
    post.refresh_from_db()
    assert post.state == Post.State.DRAFT
    composer.do_update_post(cm, post, variants={"x": "Ahora cabe"})
    post = composer.submit_for_review(cm, Post.objects.get(pk=post.pk))
    assert post.state == Post.State.PENDING_APPROVAL


# --- The report -------------------------------------------------------------------------------

@pytest.mark.parametrize("lang, words", [("es", "caracteres"), ("en", "characters")])
def test_x_281_characters_is_an_error_in_each_language(setup, lang, words):
    brand, _people, accounts = setup
    with translation.override(lang):
        report = composer.validate_post(brand, "a" * 281, {}, [accounts["x"]], spelling=False)
        x = report.networks["x"]
        assert x.counters[0].display == "281/280" and x.counters[0].over
        assert [i.code for i in x.errors] == ["too_long"]
        assert words in x.errors[0].message and "281" in x.errors[0].message
        assert report.has_errors
        ok = composer.validate_post(brand, "a" * 280, {}, [accounts["x"]], spelling=False)
        assert not ok.networks["x"].errors and ok.networks["x"].counters[0].display == "280/280"


def test_bluesky_counts_graphemes_and_bytes(setup):
    brand, _people, accounts = setup
    family = "👨‍👩‍👧‍👦"  # one grapheme, 25 bytes
    report = composer.validate_post(brand, family * 300, {}, [accounts["bluesky"]], spelling=False)
    bsky = report.networks["bluesky"]
    counters = {c.key: c for c in bsky.counters}
    assert counters["graphemes"].value == 300 and not counters["graphemes"].over
    assert counters["bytes"].value == 7500 and counters["bytes"].over
    assert [i.code for i in bsky.errors] == ["too_many_bytes"]
    report = composer.validate_post(brand, "é" * 301, {}, [accounts["bluesky"]], spelling=False)
    assert [i.code for i in report.networks["bluesky"].errors] == ["too_long"]


def test_instagram_hashtags_and_required_image(setup):
    brand, people, accounts = setup
    tags = " ".join(f"#tag{i}" for i in range(31))
    report = composer.validate_post(brand, tags, {}, [accounts["instagram"]], spelling=False)
    codes = [i.code for i in report.networks["instagram"].errors]
    assert "too_many_hashtags" in codes and "needs_media" in codes
    assert {c.key: c.display for c in report.networks["instagram"].counters}["hashtags"] == "31/30"


def test_variant_text_is_what_gets_checked(setup):
    brand, _people, accounts = setup
    report = composer.validate_post(brand, "a" * 400, {"x": "Corto"}, [accounts["x"], accounts["bluesky"]],
                                    spelling=False)
    assert not report.networks["x"].errors and not report.networks["x"].inherits
    assert report.networks["bluesky"].inherits and report.networks["bluesky"].errors


def test_image_rules_per_network(setup):
    brand, people, accounts = setup
    cm = Ctx(people["community_manager"])
    wide = services.do_upload_media(cm, brand, generated_png(1000, 300, (9, 9, 9)), alt_text="")
    report = composer.validate_post(brand, "Foto", {}, [accounts["instagram"], accounts["x"]], [wide], spelling=False)
    ig = [i for i in report.networks["instagram"].errors if i.source == "media"]
    assert "aspect_too_wide" in [i.code for i in ig]
    assert "1.91:1" in next(i.message for i in ig if i.code == "aspect_too_wide")
    assert not [i for i in report.networks["x"].errors if i.source == "media"]  # X takes it
    assert "no_alt_text" in [i.code for i in report.general]  # a warning, not an error
    assert all(i.level == "warning" for i in report.general if i.code == "no_alt_text")
    five = [services.do_upload_media(cm, brand, generated_png(400, 400, (i, 0, 0)), alt_text="x") for i in range(5)]
    report = composer.validate_post(brand, "Fotos", {}, [accounts["x"]], five, spelling=False)
    assert "too_many_images" in [i.code for i in report.networks["x"].errors]


def test_telegram_caption_limit_with_media(setup):
    brand, people, accounts = setup
    cm = Ctx(people["community_manager"])
    img = services.do_upload_media(cm, brand, generated_png(), alt_text="img")
    text = "a" * 1500
    assert not composer.validate_post(brand, text, {}, [accounts["telegram"]], spelling=False).has_errors
    report = composer.validate_post(brand, text, {}, [accounts["telegram"]], [img], spelling=False)
    assert [i.code for i in report.networks["telegram"].errors] == ["caption_too_long"]


def test_guidelines_banned_words_block_and_hashtags_warn(setup):
    brand, _people, accounts = setup
    brand.banned_words = ["pésimo"]
    brand.required_hashtags = ["#CaféDeBarrio"]
    brand.tone = "Cercano y con humor"
    report = composer.validate_post(brand, "Un servicio PESIMO", {}, [accounts["x"]], spelling=False)
    x = report.networks["x"]
    assert [i.code for i in x.errors] == ["banned_word"]
    assert "missing_hashtag" in [i.code for i in x.warnings]
    assert report.tone == "Cercano y con humor"


def test_first_comment_is_checked_where_it_is_published(setup):
    brand, _people, accounts = setup
    report = composer.validate_post(brand, "Hola", {}, [accounts["x"], accounts["telegram"]],
                                    first_comment="c" * 300, spelling=False)
    assert [i.source for i in report.networks["x"].errors] == ["first_comment"]
    assert [i.code for i in report.networks["telegram"].warnings] == ["first_comment_unsupported"]


def test_spelling_in_the_brand_language_with_brand_words(setup):
    from tertulia.content import spelling
    from tertulia.content.models import BrandWord

    # Suggestions have a time budget per call; computing this one first (it is cached) keeps
    # the test independent of how loaded the machine is.
    spelling.warm_up()  # Spanish checks consult the English dictionary too
    expected = spelling.suggest("desalluno", "es")
    assert "desayuno" in expected
    brand, people, accounts = setup
    BrandWord.objects.create(brand=brand, word="Cafetín")
    report = composer.validate_post(brand, "Mañana abrimos el cafetín con un desalluno muy rrico", {},
                                    [accounts["x"]])
    assert report.spelling_available
    found = [i for i in report.networks["x"].warnings if i.source == "spelling"]
    words = {i.word for i in found}
    assert "desalluno" in words and "cafetín" not in {w.lower() for w in words}
    assert next(i for i in found if i.word == "desalluno").suggestions == expected[:5]
    assert not report.networks["x"].errors  # spelling never blocks


# --- Times and links --------------------------------------------------------------------------

def test_local_times_in_the_brand_zone_and_dst(setup):
    brand, _people, _accounts = setup  # Europe/Madrid
    summer = composer.local_to_utc(brand, date(2030, 7, 1), time(9, 30))
    assert summer.astimezone(UTC) == datetime(2030, 7, 1, 7, 30, tzinfo=UTC)
    with pytest.raises(ValidationError) as err:
        composer.local_to_utc(brand, date(2030, 3, 31), time(2, 30))  # clocks go 02:00 -> 03:00
    assert "02:30" in str(err.value)
    ambiguous = composer.local_to_utc(brand, date(2030, 10, 27), time(2, 30))  # happens twice
    assert ambiguous.astimezone(UTC) == datetime(2030, 10, 27, 0, 30, tzinfo=UTC)  # the first one


def test_past_schedule_blocks_submission(setup):
    brand, _people, accounts = setup
    report = composer.validate_post(brand, "Hola", {}, [accounts["x"]], spelling=False,
                                    scheduled_at=timezone.now() - timedelta(hours=1))
    assert "in_the_past" in [i.code for i in report.errors]


def test_a_messaging_channel_is_not_a_post_target(brand_a):
    """WhatsApp is answered from the inbox: a post cannot target it (the page does not offer it
    and the service refuses it, for the API)."""
    from django.core.exceptions import ValidationError

    from tertulia.content import composer
    from tertulia.core.services import Ctx
    from tertulia.networks.models import SocialAccount

    brand, people = brand_a
    wa = SocialAccount.objects.create(brand=brand, network="whatsapp", handle="+34600000000", external_id="1")
    with pytest.raises(ValidationError) as caught:
        composer.do_create_draft(Ctx(people["owner"]), brand, text="Hola", accounts=[wa])
    assert "WhatsApp" in caught.value.message_dict["accounts"][0]
    assert not composer.Post.objects.filter(brand=brand).exists()
