"""Hiding comments on the network (the loopback Graph API fake): a CM's or a rule's decision
goes out after the commit; a refusal undoes the row, keeps the flag and tells the team."""

from __future__ import annotations

import pytest

from tertulia.core.models import AuditEvent, Notification
from tertulia.inbox import actions, services
from tertulia.inbox.models import Conversation, InboxRule, Interaction
from tertulia.inbox.services import IncomingAuthor
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account
from tests.fakes.facebook import CORPUS_POST, PAGE_ID, Fault
from tests.fakes.facebook_plugin import fake_graph  # noqa: F401

from .backend_helpers import brand, cm_ctx, ingest, loopback, msg, owner_ctx, people  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page(owner_ctx, brand, fake_graph, loopback):  # noqa: F811
    return do_add_account(owner_ctx, brand, network="facebook", handle="Café Tertulia",
                          access_token=fake_graph.page_token, base_url=fake_graph.base_url, external_id=PAGE_ID)


@pytest.fixture
def comment(page, fake_graph):  # noqa: F811
    posted = fake_graph.comment(CORPUS_POST, "Sois unos inútiles y unos ladrones", user_id="9001", name="Troll")
    troll = IncomingAuthor(external_id="9001", handle="Troll")
    ingest(page, msg(posted["id"], text=posted["message"], author=troll, root=CORPUS_POST, sentiment="negative",
                     intent="other", toxicity=0.95, urgency=0.3))
    return Interaction.objects.get(external_id=posted["id"])


def test_a_cm_hides_a_comment_on_the_network(comment, cm_ctx, fake_graph):  # noqa: F811
    services.do_hide(cm_ctx, comment, True)
    comment.refresh_from_db()
    assert comment.hidden and fake_graph.comments[comment.external_id]["is_hidden"] is True
    assert AuditEvent.objects.filter(action="interaction.hide_on_network").exists()
    services.do_hide(cm_ctx, comment, False)
    assert fake_graph.comments[comment.external_id]["is_hidden"] is False


def test_a_rule_hides_toxic_comments_as_they_arrive(page, brand, fake_graph):  # noqa: F811
    InboxRule.objects.create(brand=brand, name="Hide toxic", conditions={"min_toxicity": 0.8}, actions={"hide": True})
    posted = fake_graph.comment(CORPUS_POST, "basura de sitio", user_id="9002", name="Otro")
    kind = fake_graph.comment(CORPUS_POST, "¡Me encanta!", user_id="9003", name="Fan")
    ingest(page,
           msg(posted["id"], text=posted["message"], author=IncomingAuthor("9002", "Otro"), root=CORPUS_POST,
               sentiment="negative", intent="other", toxicity=0.92, urgency=0.2),
           msg(kind["id"], text=kind["message"], author=IncomingAuthor("9003", "Fan"), root=CORPUS_POST,
               sentiment="positive", intent="praise", toxicity=0.0, urgency=0.1))
    assert fake_graph.comments[posted["id"]]["is_hidden"] is True
    assert not fake_graph.comments[kind["id"]].get("is_hidden")
    assert Interaction.objects.get(external_id=posted["id"]).hidden
    assert Conversation.objects.get(author__external_id="9002").flagged


def test_a_network_refusal_undoes_the_row_keeps_the_flag_and_tells_the_team(  # noqa: F811
        comment, cm_ctx, fake_graph, people):
    fake_graph.inject("*", Fault.server_error(500), times=None)
    services.do_hide(cm_ctx, comment, True)
    comment.refresh_from_db()
    assert not comment.hidden  # what the network shows
    assert Conversation.objects.get().flagged
    told = Notification.objects.filter(kind="inbox.hide_failed")
    assert {n.recipient for n in told} == {people["owner"], people["manager"], people["community_manager"]}
    assert "Troll" in told[0].message[0]["params"]["author"]
    assert AuditEvent.objects.filter(action="interaction.hide_failed").exists()


def test_a_transient_failure_is_retried(comment, cm_ctx, fake_graph):  # noqa: F811
    fake_graph.inject("*", Fault.server_error(503), times=1)
    services.do_hide(cm_ctx, comment, True)
    comment.refresh_from_db()
    assert comment.hidden and fake_graph.comments[comment.external_id]["is_hidden"] is True
    assert not Notification.objects.filter(kind="inbox.hide_failed").exists()


def test_an_expired_token_parks_the_account(comment, cm_ctx, fake_graph, page):  # noqa: F811
    fake_graph.expire_token()
    services.do_hide(cm_ctx, comment, True)
    page.refresh_from_db()
    comment.refresh_from_db()
    assert page.status == SocialAccount.Status.NEEDS_RECONNECT and not comment.hidden


def test_stale_or_unknown_requests_do_nothing(comment, fake_graph):  # noqa: F811
    before = len(fake_graph.requests)
    assert actions.apply_on_network(comment.pk, "hide") == "stale"  # the row does not want it hidden
    assert actions.apply_on_network(comment.pk + 999, "hide") == "stale"
    assert actions.apply_on_network(comment.pk, "delete") == "stale"
    assert len(fake_graph.requests) == before  # the network was not called
