"""The engine against the loopback fake Mastodon: success, duplicate and stale tasks, the
database's clock, and each kind of failure (DESIGN.md §3)."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import translation
from huey.contrib.djhuey import HUEY

from tertulia.core.models import AuditEvent
from tertulia.networks.models import SocialAccount
from tertulia.publishing import engine, services, tasks
from tertulia.publishing.clock import db_now
from tertulia.publishing.models import DeliveryAttempt, PostTarget
from tests.fakes.mastodon import Fault

from .conftest import drain, now, scheduled_tasks, timedelta

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)


def _log(target):
    return list(DeliveryAttempt.objects.filter(target=target).order_by("started_at", "pk"))


def _posts(fake):
    return fake.requests_to("POST", "/api/v1/statuses")


def test_scheduling_now_publishes_once_after_commit(ctx, make_target, fake_mastodon):
    target = make_target()
    assert target.state == S.APPROVED
    services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=1))
    target.refresh_from_db()
    assert target.state == S.PUBLISHED
    (status,) = fake_mastodon.own_statuses()
    assert target.external_id == status["id"] and target.external_url.startswith(fake_mastodon.base_url)
    assert target.published_at is not None and target.attempts == 1
    (attempt,) = _log(target)
    assert attempt.outcome == "published" and attempt.external_id == status["id"]
    assert attempt.finished_at >= attempt.started_at and len(attempt.content_hash) == 64
    # The marker went out as Mastodon's Idempotency-Key.
    assert _posts(fake_mastodon)[0].headers["idempotency-key"] == target.marker
    target.post.refresh_from_db()
    assert target.post.state == "published"
    assert AuditEvent.objects.filter(action="target.schedule", object_id=str(target.pk)).exists()


def test_duplicate_and_stale_tasks_do_nothing(ctx, make_target, fake_mastodon):
    target = make_target()
    services.do_schedule(ctx, target, due_at=now() + timedelta(hours=1))
    v1 = target.version
    services.do_reschedule(ctx, target, due_at=now() - timedelta(seconds=1))
    v2 = target.version
    assert v2 == v1 + 1
    # The task queued for the first time is stale: a newer version exists.
    assert tasks.publish_target.call_local(target.pk, v1) == "stale"
    target.refresh_from_db()
    assert target.state == S.PUBLISHED  # the task for v2 ran on commit
    # The same task delivered twice (Huey redelivery, the sweeper): nothing more.
    assert tasks.publish_target.call_local(target.pk, v2) == "stale"
    assert tasks.publish_target.call_local(target.pk, v1) == "stale"
    assert len(fake_mastodon.own_statuses()) == 1 and len(_posts(fake_mastodon)) == 1


def test_two_consumers_with_the_same_task_claim_once(make_target, fake_mastodon):
    target = make_target(due_at=now() - timedelta(seconds=1))
    first = PostTarget.objects.select_related("account", "post").get(pk=target.pk)
    second = PostTarget.objects.select_related("account", "post").get(pk=target.pk)
    clock = db_now()
    attempt = engine.claim(first, clock)
    assert attempt is not None and first.state == S.PUBLISHING
    assert engine.claim(second, clock) is None  # lost the conditional UPDATE
    assert engine.deliver(first, attempt) == "published"
    assert len(fake_mastodon.own_statuses()) == 1


def test_never_published_before_due_even_if_the_task_runs_early(make_target, fake_mastodon):
    """A consumer whose clock runs ahead (or a task queued with a wrong ETA) runs the task
    early: the claim checks the database's clock and the task re-queues itself."""
    due = db_now() + timedelta(seconds=1.5)
    target = make_target(due_at=due)
    assert tasks.publish_target.call_local(target.pk, target.version) == "early"
    target.refresh_from_db()
    assert target.state == S.SCHEDULED and fake_mastodon.own_statuses() == []
    # It queued itself again, for the remaining time.
    ((name, args, eta),) = scheduled_tasks()
    assert name.endswith("publish_target") and args == (target.pk, target.version) and eta is not None
    # And a claim attempted directly is refused too, by the UPDATE's own condition.
    assert engine.claim(target, db_now()) is None
    drain(target)
    assert target.state == S.PUBLISHED
    assert target.published_at >= due
    assert _log(target)[0].started_at >= due


def test_429_storm_is_retried_after_retry_after_then_published(make_target, fake_mastodon):
    fake_mastodon.inject("POST /api/v1/statuses", Fault.rate_limited(reset_in=30, retry_after=1), times=2)
    target = make_target(due_at=now() - timedelta(seconds=1))
    assert tasks.publish_target.call_local(target.pk, target.version) == "retry"
    target.account.refresh_from_db()
    assert target.account.blocked_until is not None  # per account: its other targets wait too
    drain(target)
    assert target.state == S.PUBLISHED and target.attempts == 3
    log = _log(target)
    assert [a.outcome for a in log] == ["retry", "retry", "published"]
    for previous, following in zip(log, log[1:]):
        assert previous.error_kind == "rate_limited" and previous.http_status == 429
        assert "retry_after=1s" in previous.error_detail
        assert previous.retry_at - previous.finished_at >= timedelta(seconds=1)
        assert following.started_at >= previous.retry_at  # Retry-After honoured
    assert len(fake_mastodon.own_statuses()) == 1


def test_5xx_backs_off_exponentially_then_publishes(make_target, fake_mastodon, publishing_settings):
    fake_mastodon.inject("POST /api/v1/statuses", Fault.server_error(503), times=3)
    target = make_target(due_at=now() - timedelta(seconds=1))
    tasks.publish_target.call_local(target.pk, target.version)
    drain(target)
    assert target.state == S.PUBLISHED and target.attempts == 4
    log = _log(target)
    assert [a.outcome for a in log] == ["retry", "retry", "retry", "published"]
    base, cap = publishing_settings["BACKOFF_BASE"], publishing_settings["BACKOFF_CAP"]
    for n, attempt in enumerate(log[:3], start=1):
        assert attempt.error_kind == "retryable" and attempt.http_status == 503
        wait = (attempt.retry_at - attempt.finished_at).total_seconds()
        full = min(cap, base * 2 ** (n - 1))
        assert full / 2 - 0.01 <= wait <= full + 0.01  # equal jitter within the capped step
    assert len(fake_mastodon.own_statuses()) == 1


def test_retries_run_out_and_the_target_fails(make_target, fake_mastodon, publishing_settings):
    fake_mastodon.inject("POST /api/v1/statuses", Fault.server_error(500), times=None)
    target = make_target(due_at=now() - timedelta(seconds=1))
    tasks.publish_target.call_local(target.pk, target.version)
    drain(target)
    assert target.state == S.FAILED and target.attempts == publishing_settings["MAX_ATTEMPTS"]
    assert target.last_error.startswith("We tried 4 times and the network did not accept the post.")
    with translation.override("es"):
        assert target.error_display().startswith("Lo intentamos 4 veces")
    assert [a.outcome for a in _log(target)][-1] == "failed"
    assert fake_mastodon.own_statuses() == []


def test_ambiguous_timeout_after_the_status_was_created_is_found_not_reposted(make_target, fake_mastodon):
    # The server creates the status, then stalls longer than our read timeout (0.6 s).
    fake_mastodon.inject("POST /api/v1/statuses", Fault.timeout_after(2.0))
    target = make_target(due_at=now() - timedelta(seconds=1))
    assert tasks.publish_target.call_local(target.pk, target.version) == "found"
    target.refresh_from_db()
    (status,) = fake_mastodon.own_statuses()
    assert target.state == S.PUBLISHED and target.external_id == status["id"]
    assert len(_posts(fake_mastodon)) == 1  # never re-posted
    (attempt,) = _log(target)
    assert attempt.outcome == "found" and attempt.error_kind == "ambiguous"


def test_ambiguous_gateway_error_without_a_status_is_retried_once(make_target, fake_mastodon):
    # A 504 before the server acted: ambiguous for a write; find_published finds nothing.
    fake_mastodon.inject("POST /api/v1/statuses", Fault.server_error(504))
    target = make_target(due_at=now() - timedelta(seconds=1))
    assert tasks.publish_target.call_local(target.pk, target.version) == "retry"
    assert fake_mastodon.requests_to("GET", "/api/v1/accounts/:id/statuses")  # it looked first
    drain(target)
    assert target.state == S.PUBLISHED
    assert [a.outcome for a in _log(target)] == ["retry", "published"]
    assert len(fake_mastodon.own_statuses()) == 1


def test_permanent_422_fails_with_the_servers_text_in_the_log(make_target, fake_mastodon):
    fake_mastodon.max_characters = 20  # the server is stricter than the limit we knew
    target = make_target(text="Este texto tiene más de veinte caracteres.", due_at=now() - timedelta(seconds=1))
    assert tasks.publish_target.call_local(target.pk, target.version) == "failed"
    target.refresh_from_db()
    assert target.state == S.FAILED
    (attempt,) = _log(target)
    assert attempt.http_status == 422 and attempt.error_kind == "permanent"
    assert "Validation failed: Text character limit of 20 exceeded" in attempt.error_detail
    assert attempt.user_message and target.last_error == attempt.user_message
    assert len(_posts(fake_mastodon)) == 1 and fake_mastodon.own_statuses() == []


def test_expired_token_needs_reconnect_and_tells_the_user(make_target, fake_mastodon, account):
    fake_mastodon.expire_token()
    target = make_target(due_at=now() - timedelta(seconds=1))
    assert tasks.publish_target.call_local(target.pk, target.version) == S.NEEDS_ATTENTION
    target.refresh_from_db()
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT
    assert target.state == S.NEEDS_ATTENTION
    assert "needs to be reconnected" in target.last_error
    with translation.override("es"):
        assert target.error_display().startswith("Hay que volver a conectar esta cuenta")
    assert AuditEvent.objects.filter(action="account.needs_reconnect", object_id=str(account.pk)).exists()
    (attempt,) = _log(target)
    assert attempt.error_kind == "auth_expired" and attempt.http_status == 401
    # Other targets of the account are told too, without calling the network again.
    calls = len(fake_mastodon.requests)
    other = make_target(due_at=now() - timedelta(seconds=1))
    assert tasks.publish_target.call_local(other.pk, other.version) == S.NEEDS_ATTENTION
    other.refresh_from_db()
    assert "is not connected" in other.last_error and len(fake_mastodon.requests) == calls


def test_text_too_long_at_publish_time_never_reaches_the_network(make_target, fake_mastodon):
    target = make_target(due_at=now() - timedelta(seconds=1))
    # The Mastodon variant is edited after scheduling (another path, an import…).
    target.post.variants.filter(network="mastodon").update(text="x" * 600, is_custom=True)
    assert tasks.publish_target.call_local(target.pk, target.version) == S.NEEDS_ATTENTION
    target.refresh_from_db()
    assert target.last_error == "This post is 600 characters long; Mastodon allows 500."
    with translation.override("es"):  # shown in the reader's language
        assert target.error_display() == "Esta publicación tiene 600 caracteres; Mastodon permite 500."
        assert _log(target)[0].message_display() == target.error_display()
    assert _posts(fake_mastodon) == []
    (attempt,) = _log(target)
    assert attempt.outcome == "needs_attention" and attempt.http_status is None


def test_a_stuck_publishing_lease_is_reconciled_without_a_duplicate(make_target, fake_mastodon, publishing_settings):
    """A consumer claimed the target, the post reached the network, and the consumer died
    before recording it. The sweeper finds the post instead of posting it again."""
    publishing_settings["LEASE_SECONDS"] = 0.5
    target = make_target(due_at=now() - timedelta(seconds=1))
    attempt = engine.claim(target, db_now())
    with engine.connector_for(target.account) as connector:  # the call the dead consumer made
        connector.publish(engine.build_payload(target))
    assert tasks.sweep_once() == {"due": 0, "reconcile": 0}  # the lease still holds
    time.sleep(0.6)
    stuck_version = PostTarget.objects.get(pk=target.pk).version
    assert tasks.sweep_once() == {"due": 0, "reconcile": 1}
    target.refresh_from_db()
    assert target.state == S.PUBLISHED
    assert tasks.reconcile_target.call_local(target.pk, stuck_version) == "stale"  # a duplicate sweep
    assert len(fake_mastodon.own_statuses()) == 1 and len(_posts(fake_mastodon)) == 1
    first, second = _log(target)
    assert first.attempt_id == attempt.attempt_id and first.outcome == "lost"
    assert second.outcome == "found" and second.external_id == target.external_id


def test_a_stuck_lease_whose_post_never_left_is_published_once(make_target, fake_mastodon, publishing_settings):
    publishing_settings["LEASE_SECONDS"] = 0.3
    target = make_target(due_at=now() - timedelta(seconds=1))
    engine.claim(target, db_now())  # ...and the consumer died before calling the network
    time.sleep(0.4)
    tasks.sweep_once()
    drain(target)
    assert target.state == S.PUBLISHED
    assert [a.outcome for a in _log(target)] == ["lost", "retry", "published"]
    assert len(fake_mastodon.own_statuses()) == 1 and len(_posts(fake_mastodon)) == 1


def test_the_sweeper_sends_what_was_missed_and_skips_paused_accounts(ctx, make_target, fake_mastodon, account):
    # Approval schedules the row but its task was lost (a consumer restarted, say).
    target = make_target(due_at=now() - timedelta(minutes=5))
    services.do_set_account_paused(ctx, account, True)
    assert tasks.sweep_once() == {"due": 0, "reconcile": 0}
    assert tasks.publish_target.call_local(target.pk, target.version) == "paused"
    services.do_set_account_paused(ctx, account, False)  # resuming queues its due targets
    target.refresh_from_db()
    assert target.state == S.PUBLISHED
    missed = make_target(due_at=now() - timedelta(minutes=1))
    assert tasks.sweep_once() == {"due": 1, "reconcile": 0}
    missed.refresh_from_db()
    assert missed.state == S.PUBLISHED
    assert len(fake_mastodon.own_statuses()) == 2
    assert AuditEvent.objects.filter(action="account.pause").exists()


def test_a_rate_limited_account_is_skipped_when_claiming(make_target, fake_mastodon, account):
    account.blocked_until = db_now() + timedelta(seconds=1)
    account.save(update_fields=["blocked_until"])
    target = make_target(due_at=now() - timedelta(seconds=1))
    assert tasks.sweep_once()["due"] == 0
    assert tasks.publish_target.call_local(target.pk, target.version) == "early"
    drain(target)
    assert target.state == S.PUBLISHED and target.published_at >= account.blocked_until


def test_cancel_reschedule_and_retry_now(ctx, make_target, fake_mastodon):
    target = make_target()
    services.do_schedule(ctx, target, due_at=now() + timedelta(hours=1))
    old = target.version
    services.do_cancel(ctx, target)
    assert target.state == S.CANCELED
    assert tasks.publish_target.call_local(target.pk, old) == "stale"
    with pytest.raises(ValidationError):
        services.do_cancel(ctx, target)
    # A page opened before the cancel cannot reschedule it.
    stale_page = PostTarget.objects.get(pk=target.pk)
    stale_page.state, stale_page.version = S.SCHEDULED, old
    with pytest.raises(ValidationError) as info:
        services.do_reschedule(ctx, stale_page, due_at=now())
    assert info.value.code == "changed"

    failing = make_target()
    fake_mastodon.inject("POST /api/v1/statuses", Fault.respond(422, {"error": "Validation failed: nope"}))
    services.do_schedule(ctx, failing, due_at=now() - timedelta(seconds=1))
    failing.refresh_from_db()
    assert failing.state == S.FAILED
    services.do_retry_now(ctx, failing)
    failing.refresh_from_db()
    assert failing.state == S.PUBLISHED and failing.attempts == 1
    assert AuditEvent.objects.filter(action="target.retry", object_id=str(failing.pk)).exists()
    with pytest.raises(ValidationError):
        services.do_cancel(ctx, failing)  # published: nothing to cancel


def test_a_target_in_flight_cannot_be_canceled_or_rescheduled(ctx, make_target):
    target = make_target(due_at=now() - timedelta(seconds=1))
    engine.claim(target, db_now())
    with pytest.raises(ValidationError) as info:
        services.do_cancel(ctx, target)
    assert info.value.code == "in_flight"
    with pytest.raises(ValidationError):
        services.do_reschedule(ctx, target, due_at=now())


def test_scheduling_validates_the_text_for_the_network(ctx, make_target):
    target = make_target(text="y" * 501)
    with pytest.raises(ValidationError) as info:
        services.do_schedule(ctx, target, due_at=now() + timedelta(hours=1))
    # The message is translated when shown, in the reader's language.
    with translation.override("en"):
        assert info.value.message_dict["text"] == ["This post is 501 characters long; Mastodon allows 500."]
    with translation.override("es"):
        assert info.value.message_dict["text"] == ["Esta publicación tiene 501 caracteres; Mastodon permite 500."]
    target.refresh_from_db()
    assert target.state == S.APPROVED and HUEY.scheduled_count() == 0
    with pytest.raises(ValidationError):
        services.do_schedule(ctx, target, due_at=now().replace(tzinfo=None))


def test_people_without_compose_rights_cannot_schedule(tenant, make_target, make_user):
    from django.core.exceptions import PermissionDenied

    from tertulia.core.services import Ctx

    target = make_target()
    with pytest.raises(PermissionDenied):
        services.do_schedule(Ctx(make_user("stranger")), target, due_at=now())



def test_attachments_go_with_their_alt_text(make_target, fake_mastodon, settings, tmp_path):
    from django.core.files.base import ContentFile

    from tertulia.content.models import MediaAsset, PostMedia

    settings.MEDIA_ROOT = str(tmp_path)
    target = make_target(due_at=now() - timedelta(seconds=1))
    asset = MediaAsset.objects.create(brand=target.brand, file=ContentFile(b"\x89PNG fake image", name="cartel.png"),
                                      kind="image", mime_type="image/png", size_bytes=16, sha256="0" * 64,
                                      alt_text="Un cartel con el programa")
    PostMedia.objects.create(post=target.post, asset=asset)
    assert tasks.publish_target.call_local(target.pk, target.version) == "published"
    (status,) = fake_mastodon.own_statuses()
    (media,) = fake_mastodon.media.values()
    assert media["description"] == "Un cartel con el programa" and media["status_id"] == status["id"]


def test_ambiguous_and_the_check_fails_too_waits_for_the_sweeper_then_finds_it(make_target, fake_mastodon):
    """The status was created but the answer was lost, and the network cannot tell us right
    away either: the target stays in publishing (no blind retry) until a check succeeds."""
    fake_mastodon.inject("POST /api/v1/statuses", Fault.drop_after())
    fake_mastodon.inject("GET /api/v1/accounts/verify_credentials", Fault.server_error(503))
    target = make_target(due_at=now() - timedelta(seconds=1))
    assert tasks.publish_target.call_local(target.pk, target.version) == "unconfirmed"
    target.refresh_from_db()
    assert target.state == S.PUBLISHING and target.lease_expires_at is not None
    ((name, args, _eta),) = scheduled_tasks()
    assert name.endswith("reconcile_target") and args == (target.pk, target.version)
    drain(target)
    assert target.state == S.PUBLISHED
    assert [a.outcome for a in _log(target)] == ["unconfirmed", "found"]
    assert len(fake_mastodon.own_statuses()) == 1 and len(_posts(fake_mastodon)) == 1


def test_the_sweeper_runs_every_minute():
    from datetime import datetime

    for minute in (0, 7, 59):
        due = HUEY.read_periodic(datetime(2026, 3, 29, 1, minute))
        assert any(isinstance(task, tasks.sweep.task_class) for task in due)


def test_a_network_without_a_connector_fails_with_a_plain_message(ctx, brand, make_target, monkeypatch):
    from tertulia.networks import registry
    from tertulia.networks.services import do_add_account

    monkeypatch.delitem(registry._CONNECTORS, "x")  # as if this network's package were not installed
    x_account = do_add_account(ctx, brand, network="x", handle="pub_x")
    target = make_target(due_at=now() - timedelta(seconds=1), accounts=[x_account])
    assert tasks.publish_target.call_local(target.pk, target.version) == S.FAILED
    target.refresh_from_db()
    assert target.last_error == "Tertulia cannot connect to this network yet."
    assert _log(target)[0].error_kind == "unsupported"


def test_a_missing_attachment_needs_attention_and_nothing_is_sent(make_target, fake_mastodon, settings, tmp_path):
    import os

    from django.core.files.base import ContentFile

    from tertulia.content.models import MediaAsset, PostMedia

    settings.MEDIA_ROOT = str(tmp_path)
    target = make_target(due_at=now() - timedelta(seconds=1))
    asset = MediaAsset.objects.create(brand=target.brand, file=ContentFile(b"\x89PNG", name="gone.png"),
                                      kind="image", mime_type="image/png", size_bytes=4, sha256="0" * 64)
    PostMedia.objects.create(post=target.post, asset=asset)
    os.remove(asset.file.path)
    assert tasks.publish_target.call_local(target.pk, target.version) == S.NEEDS_ATTENTION
    target.refresh_from_db()
    assert target.last_error.startswith("An attached file is missing")
    assert "FileNotFoundError" in _log(target)[0].error_detail
    assert fake_mastodon.requests_to("POST", "/api/v2/media") == [] and _posts(fake_mastodon) == []


def test_a_later_check_still_searches_from_the_first_attempt(make_target, fake_mastodon):
    """The post went out half an hour ago but the answer was lost, and the first check failed
    too. The next check must search the network back to the first attempt, not to the previous
    check: otherwise it misses the post and sends it a second time."""
    fake_mastodon.inject("POST /api/v1/statuses", Fault.drop_after())
    fake_mastodon.inject("GET /api/v1/accounts/verify_credentials", Fault.server_error(503), times=2)
    target = make_target(due_at=now() - timedelta(seconds=1))
    assert tasks.publish_target.call_local(target.pk, target.version) == "unconfirmed"
    # Age the first attempt and the status it created by 30 minutes.
    (status,) = fake_mastodon.own_statuses()
    status["created_at"] -= timedelta(minutes=30)
    DeliveryAttempt.objects.filter(target=target).update(started_at=F("started_at") - timedelta(minutes=30))
    target.refresh_from_db()
    PostTarget.objects.filter(pk=target.pk).update(lease_expires_at=db_now() - timedelta(seconds=1))
    assert tasks.reconcile_target.call_local(target.pk, target.version) == "unconfirmed"  # the second 503
    drain(target)
    assert target.state == S.PUBLISHED
    assert [a.outcome for a in _log(target)] == ["unconfirmed", "unconfirmed", "found"]
    assert len(fake_mastodon.own_statuses()) == 1 and len(_posts(fake_mastodon)) == 1


def test_a_network_that_can_never_confirm_hands_the_post_to_a_person(make_target, fake_mastodon):
    """No blind re-post and no target spinning in ``publishing`` for ever: after MAX_ATTEMPTS
    checks that could not tell, the post needs attention and the team is told."""
    fake_mastodon.inject("POST /api/v1/statuses", Fault.drop_after())
    fake_mastodon.inject("GET /api/v1/accounts/verify_credentials", Fault.server_error(503), times=None)
    target = make_target(due_at=now() - timedelta(seconds=1))
    assert tasks.publish_target.call_local(target.pk, target.version) == "unconfirmed"
    drain(target)
    assert target.state == S.NEEDS_ATTENTION
    outcomes = [a.outcome for a in _log(target)]
    assert outcomes[-1] == "needs_attention" and outcomes.count("unconfirmed") == 4  # MAX_ATTEMPTS in the fixture
    assert "could not confirm whether this post went out" in target.last_error
    assert len(_posts(fake_mastodon)) == 1  # sent once, never again
    from tertulia.core.models import Notification

    assert Notification.objects.filter(kind="publishing.needs_attention", brand=target.brand).exists()
