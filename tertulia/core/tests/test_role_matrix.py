"""Role × action: who may do what in a brand, checked for every role on every action, through
the service AND through the API.

The expected matrix below is the policy, written once by hand from the role descriptions (an
owner does everything; a manager everything but delete the brand; a community manager writes,
schedules and works the inbox; an analyst reads and measures; a client reviewer reads and
comments on posts). Nothing here is derived from the code under test: if a service or a route
starts letting a role through (or stops), this table and the code disagree and the test says
where.

For each (role, action):
- the service (``do_*``) runs as that member: allowed means it returns, refused means
  PermissionDenied;
- a representative API route runs as that member (signed-in session): allowed means a 2xx,
  refused means a 403 (never a 404: the member can see the brand, so nothing is hidden);
- for the actions a page offers (PAGES), the page's form too: allowed redirects, refused is 403.
- every brand-scoped write route of the API (ROUTE_POLICY: the permission each one needs), as
  every role: a role without the permission gets 403, one with it never does.
Every call runs in a savepoint that is rolled back, so each starts from the same brand.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.test import Client

from tertulia.api.api import api
from tertulia.core import roles, services
from tertulia.core.services import Ctx
from tertulia.core.tests.test_isolation import _api_request, _values
from tertulia.core.tests.web_helpers import fill_route, populate

pytestmark = pytest.mark.django_db

ROLES = ("owner", "manager", "community_manager", "analyst", "client_reviewer")

# The policy. Y: allowed; -: refused with 403.
#
#  action                    permission        owner manager  cm   analyst  client
MATRIX = """
   post.comment              view              Y     Y        Y    Y        Y
   brand.read                view              Y     Y        Y    Y        Y
   post.create               compose           Y     Y        Y    -        -
   post.update               compose           Y     Y        Y    -        -
   idea.create               compose           Y     Y        Y    -        -
   media.update              compose           Y     Y        Y    -        -
   queue_slot.add            compose           Y     Y        Y    -        -
   week_theme.save           compose           Y     Y        Y    -        -
   listening_query.create    compose           Y     Y        Y    -        -
   post.approve              approve           Y     Y        -    -        -
   post.request_changes      approve           Y     Y        -    -        -
   conversation.status       reply             Y     Y        Y    -        -
   conversation.assign       reply             Y     Y        Y    -        -
   saved_reply.create        reply             Y     Y        Y    -        -
   label.create              reply             Y     Y        Y    -        -
   analytics.dashboard       analytics         Y     Y        Y    Y        -
   account.update            manage_accounts   Y     Y        -    -        -
   account.pause             manage_accounts   Y     Y        -    -        -
   member.change_role        manage_members    Y     Y        -    -        -
   invitation.create         manage_members    Y     Y        -    -        -
   brand.update              manage_brand      Y     Y        -    -        -
   knowledge.create          manage_brand      Y     Y        -    -        -
   objective.create          manage_brand      Y     Y        -    -        -
   inbox_settings.save       manage_brand      Y     Y        -    -        -
   approval_policy.update    manage_brand      Y     Y        -    -        -
   report_schedule.create    manage_brand      Y     Y        -    -        -
   audit.read                view_audit        Y     Y        -    -        -
   brand.delete              delete_brand      Y     -        -    -        -
"""


def _expected() -> dict[str, tuple[str, dict[str, bool]]]:
    table = {}
    for line in MATRIX.strip().splitlines():
        action, permission, *marks = line.split()
        assert len(marks) == len(ROLES) and set(marks) <= {"Y", "-"}, line
        table[action] = (permission, {role: mark == "Y" for role, mark in zip(ROLES, marks)})
    return table


EXPECTED = _expected()


# --- The actions: the service call and a representative API route -----------------------------

def _services():
    from tertulia.content import approvals, composer, ideas, planning
    from tertulia.content import services as content
    from tertulia.inbox import config as inbox_config
    from tertulia.inbox import services as inbox
    from tertulia.listening import services as listening
    from tertulia.networks import services as networks
    from tertulia.publishing import services as publishing
    from tertulia.reports import services as reports
    from tertulia.strategy import services as strategy
    from tertulia.core.models import Membership

    def fresh(obj):
        # As stored now (earlier calls were rolled back, but the in-memory objects may be stale).
        return type(obj).objects.get(pk=obj.pk)

    def client_membership(w):
        return Membership.objects.get(brand=w.brand, user=w.people["client_reviewer"])

    return {
        "post.comment": lambda c, w: approvals.do_comment(c, fresh(w.post), "Looks good to me"),
        "brand.read": None,  # a read: no service, the route is the check
        "post.create": lambda c, w: composer.do_create_draft(c, fresh(w.brand), text="A new draft"),
        "post.update": lambda c, w: composer.do_update_post(c, fresh(w.post), text="Edited text"),
        "idea.create": lambda c, w: ideas.do_create_idea(c, fresh(w.brand), title="An idea"),
        "media.update": lambda c, w: content.do_update_media(c, fresh(w.media), alt_text="New alt text"),
        "queue_slot.add": lambda c, w: publishing.do_add_slots(c, fresh(w.brand), weekdays=[2], times=["10:15"]),
        "week_theme.save": lambda c, w: planning.do_save_week_theme(c, fresh(w.brand), fresh(w.theme),
                                                                        theme="Another theme"),
        "listening_query.create": lambda c, w: listening.do_save_query(c, fresh(w.brand), name="Q", kind="brand",
                                                                         text="lighthouse"),
        "post.approve": lambda c, w: approvals.do_approve(c, fresh(w.post)),
        "post.request_changes": lambda c, w: approvals.do_request_changes(c, fresh(w.post), comment="Shorter, please"),
        "conversation.status": lambda c, w: inbox.do_set_status(c, fresh(w.brand), [w.conversation.pk], "closed"),
        "conversation.assign": lambda c, w: inbox.do_assign(c, fresh(w.brand), [w.conversation.pk], w.people["owner"]),
        "saved_reply.create": lambda c, w: inbox_config.do_save_saved_reply(c, fresh(w.brand), title="Hi", text="Hello",
                                                                            language="en"),
        "label.create": lambda c, w: inbox_config.do_save_label(c, fresh(w.brand), name="urgent"),
        "analytics.dashboard": None,
        "account.update": lambda c, w: networks.do_update_account(c, fresh(w.account), display_name="Renamed"),
        "account.pause": lambda c, w: publishing.do_set_account_paused(c, fresh(w.account), True),
        "member.change_role": lambda c, w: services.do_change_role(c, client_membership(w), "analyst"),
        "invitation.create": lambda c, w: services.do_invite(c, fresh(w.brand), "new.person@example.com", "analyst"),
        "brand.update": lambda c, w: services.do_update_brand(c, fresh(w.brand), tone="Warm"),
        "knowledge.create": lambda c, w: services.do_save_knowledge(c, fresh(w.brand), title="Returns", answer="30 days"),
        "objective.create": lambda c, w: strategy.do_create_objective(c, fresh(w.brand), name="Grow",
                                                                      period_start=date(2031, 1, 1),
                                                                      period_end=date(2031, 3, 31)),
        "inbox_settings.save": lambda c, w: inbox_config.do_save_inbox_settings(c, fresh(w.brand)),
        "approval_policy.update": lambda c, w: approvals.do_update_policy(c, fresh(w.brand), True, [], True),
        "report_schedule.create": lambda c, w: reports.do_save_schedule(c, fresh(w.brand), kind="weekly",
                                                                        recipients=["boss@example.com"]),
        "audit.read": None,
        "brand.delete": lambda c, w: services.do_delete_brand(c, fresh(w.brand)),
    }


# One API route per action (method, path[, body]); without a body here, it is generated from the
# OpenAPI schema with valid values aimed at the brand (the isolation crawl's generator).
ROUTES = {
    "post.comment": ("post", "/brands/{brand_id}/posts/{post_id}/comments"),
    "brand.read": ("get", "/brands/{brand_id}"),
    "post.create": ("post", "/brands/{brand_id}/posts"),
    "post.update": ("patch", "/brands/{brand_id}/posts/{post_id}"),
    "idea.create": ("post", "/brands/{brand_id}/ideas"),
    "media.update": ("patch", "/brands/{brand_id}/media/{asset_id}"),
    "queue_slot.add": ("post", "/brands/{brand_id}/queue-slots"),
    "week_theme.save": ("patch", "/brands/{brand_id}/week-themes/{theme_id}"),
    "listening_query.create": ("post", "/brands/{brand_id}/listening/queries",
                               {"name": "Q", "kind": "brand", "text": "lighthouse"}),
    "post.approve": ("post", "/brands/{brand_id}/posts/{post_id}/approve"),
    "post.request_changes": ("post", "/brands/{brand_id}/posts/{post_id}/reject"),
    "conversation.status": ("post", "/brands/{brand_id}/conversations/{conversation_id}/status"),
    "conversation.assign": ("post", "/brands/{brand_id}/conversations/{conversation_id}/assign"),
    "saved_reply.create": ("post", "/brands/{brand_id}/saved-replies"),
    "label.create": ("post", "/brands/{brand_id}/labels"),
    "analytics.dashboard": ("get", "/brands/{brand_id}/analytics/dashboard"),
    "account.update": ("patch", "/brands/{brand_id}/accounts/{account_id}"),
    "account.pause": ("post", "/brands/{brand_id}/accounts/{account_id}/pause"),
    "member.change_role": ("patch", "/brands/{brand_id}/members/{member_id}"),
    "invitation.create": ("post", "/brands/{brand_id}/invitations"),
    "brand.update": ("patch", "/brands/{brand_id}"),
    "knowledge.create": ("post", "/brands/{brand_id}/knowledge"),
    "objective.create": ("post", "/brands/{brand_id}/objectives"),
    "inbox_settings.save": ("put", "/brands/{brand_id}/inbox-settings"),
    "approval_policy.update": ("put", "/brands/{brand_id}/approval-policy"),
    "report_schedule.create": ("post", "/brands/{brand_id}/report-schedules",
                               {"kind": "weekly", "recipients": ["boss@example.com"]}),
    "audit.read": ("get", "/brands/{brand_id}/audit"),
    "brand.delete": ("delete", "/brands/{brand_id}"),
}


def test_the_matrix_covers_every_role_and_every_permission():
    assert set(ROLES) == set(roles.Role.values)
    permissions = {p for _action, (p, _marks) in EXPECTED.items()}
    declared = {getattr(roles, name) for name in dir(roles) if name.isupper() and isinstance(getattr(roles, name), str)}
    assert permissions == declared, declared ^ permissions
    assert set(_services()) == set(EXPECTED) == set(ROUTES)


@pytest.fixture
def world(brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return populate(*brand_a, marker="Alpha")


def _rolled_back(call):
    with transaction.atomic():
        try:
            return call()
        finally:
            transaction.set_rollback(True)


def test_every_role_through_the_services(world):
    services_by_action = _services()
    failures = []
    for role in ROLES:
        ctx = Ctx(world.people[role], via="test")
        for action, (permission, marks) in EXPECTED.items():
            call = services_by_action[action]
            if call is None:
                continue

            def attempt():
                try:
                    call(ctx, world)
                except PermissionDenied:
                    return False
                except Exception as exc:  # noqa: BLE001 - reported with the others below
                    return f"{type(exc).__name__}: {exc}"
                return True

            allowed = _rolled_back(attempt)
            if isinstance(allowed, str):
                failures.append(f"{role:18} {action:24} ({permission}): service failed: {allowed[:200]}")
            elif allowed != marks[role]:
                failures.append(f"{role:18} {action:24} ({permission}): service "
                                f"{'allowed' if allowed else 'refused'}, policy says "
                                f"{'allowed' if marks[role] else 'refused'}")
    assert not failures, "\n".join(failures)


def test_every_role_through_the_api(world):
    spec = api.get_openapi_schema()
    values = _values(world)
    values["member_id"] = world.brand.memberships.get(user=world.people["client_reviewer"]).pk
    failures = []
    for role in ROLES:
        client = Client(raise_request_exception=False)
        for action, (permission, marks) in EXPECTED.items():
            method, path, *body = ROUTES[action]
            url = fill_route("api/v1" + path.replace("{", "<").replace("}", ">"), values)

            def send():
                client.force_login(world.people[role])
                if body:
                    return getattr(client, method)(url, body[0], content_type="application/json")
                return _api_request(client, method, url, spec, "/api/v1" + path, world)

            response = _rolled_back(send)
            ok = 200 <= response.status_code < 300
            if marks[role] and not ok:
                failures.append(f"{role:18} {action:24} ({permission}): {method.upper()} {url} -> "
                                f"{response.status_code}, policy says allowed {response.content[:160]!r}")
            if not marks[role] and response.status_code != 403:
                failures.append(f"{role:18} {action:24} ({permission}): {method.upper()} {url} -> "
                                f"{response.status_code}, policy says refused (403)")
    assert not failures, "\n".join(failures)



# The main pages' writes (and a read), for actions a page offers: (url name, its arguments, the
# form, or None for a GET). Allowed: the page does it and redirects (a read: shows it with 200);
# refused: 403.
PAGES = {
    "knowledge.create": ("knowledge_new", lambda w: {"brand_id": w.brand.pk},
                         lambda w: {"kind": "faq", "title": "Returns", "answer": "30 days", "department": "",
                                    "contact": "", "keywords": ""}),
    "member.change_role": ("member_role", lambda w: {"brand_id": w.brand.pk, "membership_id": w.brand.memberships.get(
        user=w.people["client_reviewer"]).pk}, lambda w: {"role": "analyst"}),
    "saved_reply.create": ("inbox_saved_reply_new", lambda w: {"brand_id": w.brand.pk},
                           lambda w: {"title": "Hi", "text": "Hello", "language": "en"}),
    "account.pause": ("publishing_account_pause", lambda w: {"brand_id": w.brand.pk, "account_id": w.account.pk},
                      lambda w: {}),
    "brand.delete": ("brand_delete", lambda w: {"brand_id": w.brand.pk}, lambda w: {"confirm_name": w.brand.name}),
    "audit.read": ("audit_log", lambda w: {"brand_id": w.brand.pk}, None),
}


def test_every_role_through_the_pages(world):
    from django.urls import reverse

    failures = []
    for role in ROLES:
        client = Client(raise_request_exception=False)
        for action, (name, kwargs, form) in PAGES.items():
            permission, marks = EXPECTED[action]
            url = reverse(name, kwargs=kwargs(world))

            def send():
                client.force_login(world.people[role])
                return client.get(url) if form is None else client.post(url, form(world))

            response = _rolled_back(send)
            ok = response.status_code == (200 if form is None else 302)
            if ok and response.status_code == 302 and response["Location"].startswith(reverse("login")):
                ok = False
            if marks[role] and not ok:
                failures.append(f"{role:18} {action:24} ({permission}): {url} -> {response.status_code}, "
                                "policy says allowed")
            if not marks[role] and response.status_code != 403:
                failures.append(f"{role:18} {action:24} ({permission}): {url} -> {response.status_code}, "
                                "policy says refused (403)")
    assert not failures, "\n".join(failures)


# --- Every write route of the API --------------------------------------------------------------
# The permission each brand-scoped write route needs: the policy, by hand, one line per route (a
# new route fails the test below until it is given its line). Which roles hold each permission
# comes from MATRIX above. Refused means 403; allowed means anything but 403 and 404 (the
# generated body may be refused as invalid: 422, or the object's state: 409), and never a 5xx.
# Not here: POST /deleted-brands/{brand_id}/restore, whose brand is deleted (test_brand_lifecycle).
ROUTE_POLICY = """
   manage_brand     PATCH  /brands/{brand_id}
   delete_brand     DELETE /brands/{brand_id}
   manage_brand     POST   /brands/{brand_id}/logo
   manage_brand     DELETE /brands/{brand_id}/logo
   manage_accounts  POST   /brands/{brand_id}/accounts
   manage_accounts  PATCH  /brands/{brand_id}/accounts/{account_id}
   manage_accounts  DELETE /brands/{brand_id}/accounts/{account_id}
   manage_members   POST   /brands/{brand_id}/members
   manage_members   PATCH  /brands/{brand_id}/members/{member_id}
   manage_members   DELETE /brands/{brand_id}/members/{member_id}
   manage_members   POST   /brands/{brand_id}/invitations
   manage_members   DELETE /brands/{brand_id}/invitations/{invitation_id}
   manage_brand     POST   /brands/{brand_id}/knowledge
   manage_brand     PATCH  /brands/{brand_id}/knowledge/{entry_id}
   manage_brand     DELETE /brands/{brand_id}/knowledge/{entry_id}
   manage_brand     POST   /brands/{brand_id}/exports
   manage_brand     POST   /brands/{brand_id}/objectives
   manage_brand     PATCH  /brands/{brand_id}/objectives/{objective_id}
   manage_brand     DELETE /brands/{brand_id}/objectives/{objective_id}
   manage_brand     POST   /brands/{brand_id}/objectives/{objective_id}/kpis
   manage_brand     PATCH  /brands/{brand_id}/objectives/{objective_id}/kpis/{kpi_id}
   manage_brand     DELETE /brands/{brand_id}/objectives/{objective_id}/kpis/{kpi_id}
   manage_brand     POST   /brands/{brand_id}/pillars
   manage_brand     PATCH  /brands/{brand_id}/pillars/{pillar_id}
   manage_brand     DELETE /brands/{brand_id}/pillars/{pillar_id}
   compose          POST   /brands/{brand_id}/cadence/tasks/{cadence_task_id}
   manage_brand     PUT    /brands/{brand_id}/cadence/plan
   compose          POST   /brands/{brand_id}/media
   compose          PATCH  /brands/{brand_id}/media/{asset_id}
   compose          DELETE /brands/{brand_id}/media/{asset_id}
   compose          POST   /brands/{brand_id}/media/{asset_id}/crops
   compose          POST   /brands/{brand_id}/posts
   compose          POST   /brands/{brand_id}/posts/validate
   compose          PATCH  /brands/{brand_id}/posts/{post_id}
   compose          DELETE /brands/{brand_id}/posts/{post_id}
   compose          PUT    /brands/{brand_id}/posts/{post_id}/variants/{network}
   compose          DELETE /brands/{brand_id}/posts/{post_id}/variants/{network}
   compose          POST   /brands/{brand_id}/posts/{post_id}/move
   compose          POST   /brands/{brand_id}/week-themes
   compose          PATCH  /brands/{brand_id}/week-themes/{theme_id}
   compose          DELETE /brands/{brand_id}/week-themes/{theme_id}
   compose          POST   /brands/{brand_id}/key-dates
   compose          PATCH  /brands/{brand_id}/key-dates/{key_date_id}
   compose          DELETE /brands/{brand_id}/key-dates/{key_date_id}
   compose          POST   /brands/{brand_id}/ideas
   compose          PATCH  /brands/{brand_id}/ideas/{idea_id}
   compose          DELETE /brands/{brand_id}/ideas/{idea_id}
   compose          POST   /brands/{brand_id}/ideas/{idea_id}/move
   compose          POST   /brands/{brand_id}/feeds
   compose          DELETE /brands/{brand_id}/feeds/{feed_id}
   compose          POST   /brands/{brand_id}/feeds/{feed_id}/fetch
   compose          POST   /brands/{brand_id}/dictionary
   compose          DELETE /brands/{brand_id}/dictionary/{word_id}
   view             POST   /brands/{brand_id}/spelling
   compose          POST   /brands/{brand_id}/posts/{post_id}/submit
   approve          POST   /brands/{brand_id}/posts/{post_id}/approve
   approve          POST   /brands/{brand_id}/posts/{post_id}/reject
   view             POST   /brands/{brand_id}/posts/{post_id}/comments
   compose          POST   /brands/{brand_id}/posts/{post_id}/review-links
   compose          DELETE /brands/{brand_id}/posts/{post_id}/review-links/{review_link_id}
   manage_brand     PUT    /brands/{brand_id}/approval-policy
   compose          POST   /brands/{brand_id}/targets/{target_id}/retry
   compose          POST   /brands/{brand_id}/targets/{target_id}/cancel
   compose          POST   /brands/{brand_id}/targets/{target_id}/delete
   compose          POST   /brands/{brand_id}/targets/{target_id}/update-on-network
   compose          POST   /brands/{brand_id}/targets/{target_id}/unpublish
   compose          POST   /brands/{brand_id}/targets/{target_id}/retry-comment
   compose          POST   /brands/{brand_id}/queue-slots
   compose          DELETE /brands/{brand_id}/queue-slots/{slot_id}
   compose          POST   /brands/{brand_id}/posts/{post_id}/queue
   manage_brand     POST   /brands/{brand_id}/pause
   manage_brand     POST   /brands/{brand_id}/resume
   manage_accounts  POST   /brands/{brand_id}/accounts/{account_id}/pause
   manage_accounts  POST   /brands/{brand_id}/accounts/{account_id}/resume
   reply            POST   /brands/{brand_id}/conversations/{conversation_id}/reply
   reply            POST   /brands/{brand_id}/conversations/{conversation_id}/assign
   reply            POST   /brands/{brand_id}/conversations/{conversation_id}/status
   reply            POST   /brands/{brand_id}/conversations/{conversation_id}/labels
   reply            POST   /brands/{brand_id}/interactions/{interaction_id}/relabel
   reply            POST   /brands/{brand_id}/interactions/{interaction_id}/hide
   reply            POST   /brands/{brand_id}/replies/{reply_id}/retry
   reply            POST   /brands/{brand_id}/saved-replies
   reply            PATCH  /brands/{brand_id}/saved-replies/{saved_reply_id}
   reply            DELETE /brands/{brand_id}/saved-replies/{saved_reply_id}
   reply            POST   /brands/{brand_id}/labels
   reply            PATCH  /brands/{brand_id}/labels/{label_id}
   reply            DELETE /brands/{brand_id}/labels/{label_id}
   manage_brand     POST   /brands/{brand_id}/inbox-rules
   manage_brand     PATCH  /brands/{brand_id}/inbox-rules/{rule_id}
   manage_brand     DELETE /brands/{brand_id}/inbox-rules/{rule_id}
   manage_brand     PUT    /brands/{brand_id}/inbox-settings
   manage_accounts  POST   /brands/{brand_id}/accounts/{account_id}/whatsapp/templates/sync
   reply            POST   /brands/{brand_id}/conversations/{conversation_id}/whatsapp-template
   compose          PUT    /brands/{brand_id}/posts/{post_id}/youtube
   compose          POST   /brands/{brand_id}/listening/queries
   compose          POST   /brands/{brand_id}/listening/queries/check
   compose          PATCH  /brands/{brand_id}/listening/queries/{listening_query_id}
   compose          DELETE /brands/{brand_id}/listening/queries/{listening_query_id}
   compose          POST   /brands/{brand_id}/listening/sources
   compose          PATCH  /brands/{brand_id}/listening/sources/{source_id}
   compose          DELETE /brands/{brand_id}/listening/sources/{source_id}
   compose          POST   /brands/{brand_id}/listening/sources/{source_id}/poll
   compose          POST   /brands/{brand_id}/listening/mentions/{mention_id}/to-inbox
   manage_brand     PUT    /brands/{brand_id}/listening/alert-settings
   manage_brand     POST   /brands/{brand_id}/competitors
   manage_brand     PATCH  /brands/{brand_id}/competitors/{competitor_id}
   manage_brand     DELETE /brands/{brand_id}/competitors/{competitor_id}
   manage_brand     POST   /brands/{brand_id}/competitors/{competitor_id}/read
   manage_brand     POST   /brands/{brand_id}/competitors/{competitor_id}/accounts
   manage_brand     DELETE /brands/{brand_id}/competitor-accounts/{competitor_account_id}
   manage_brand     POST   /brands/{brand_id}/competitor-accounts/{competitor_account_id}/import
   compose          POST   /brands/{brand_id}/giveaways
   compose          PATCH  /brands/{brand_id}/giveaways/{giveaway_id}
   compose          DELETE /brands/{brand_id}/giveaways/{giveaway_id}
   compose          POST   /brands/{brand_id}/giveaways/{giveaway_id}/commit
   compose          POST   /brands/{brand_id}/giveaways/{giveaway_id}/close
   compose          POST   /brands/{brand_id}/giveaways/{giveaway_id}/fetch
   compose          POST   /brands/{brand_id}/giveaways/{giveaway_id}/draw
   compose          POST   /brands/{brand_id}/giveaways/{giveaway_id}/entries/{giveaway_entry_id}/override
   manage_brand     POST   /brands/{brand_id}/reports
   manage_brand     DELETE /brands/{brand_id}/reports/{report_id}
   manage_brand     POST   /brands/{brand_id}/reports/{report_id}/share
   manage_brand     POST   /brands/{brand_id}/reports/{report_id}/share/revoke
   manage_brand     POST   /brands/{brand_id}/report-schedules
   manage_brand     PATCH  /brands/{brand_id}/report-schedules/{report_schedule_id}
   manage_brand     DELETE /brands/{brand_id}/report-schedules/{report_schedule_id}
   compose          POST   /brands/{brand_id}/analytics/traffic/import
   compose          PUT    /brands/{brand_id}/analytics/campaigns/{campaign_id}
   compose          POST   /brands/{brand_id}/analytics/conversions/import
   compose          POST   /brands/{brand_id}/analytics/sync/{account_id}/read
"""


def _route_policy() -> dict[tuple[str, str], str]:
    policy = {}
    for line in ROUTE_POLICY.strip().splitlines():
        permission, method, path = line.split()
        assert permission in {p for p, _marks in EXPECTED.values()}, line
        policy[(method.lower(), path)] = permission
    return policy


def test_every_write_route_of_the_api_for_every_role(world):
    spec = api.get_openapi_schema()
    policy = _route_policy()
    writes = {(method, path.removeprefix("/api/v1")) for path, ops in spec["paths"].items() for method in ops
              if method != "get" and path.startswith("/api/v1/brands/{brand_id}")}
    assert writes == set(policy), f"routes without a policy line: {sorted(writes - set(policy))}; " \
                                  f"lines without a route: {sorted(set(policy) - writes)}"
    roles_with = {permission: marks for permission, marks in EXPECTED.values()}
    values = _values(world)
    values["member_id"] = world.brand.memberships.get(user=world.people["client_reviewer"]).pk
    clients = {}
    for role in ROLES:
        clients[role] = Client(raise_request_exception=False)
        clients[role].force_login(world.people[role])
    failures = []
    for (method, path), permission in sorted(policy.items()):
        url = fill_route("api/v1" + path.replace("{", "<").replace("}", ">"), values)
        for role in ROLES:
            response = _rolled_back(lambda: _api_request(clients[role], method, url, spec, "/api/v1" + path, world))
            status = response.status_code
            allowed = roles_with[permission][role]
            if (allowed and (status in (403, 404) or status >= 500)) or (not allowed and status != 403):
                failures.append(f"{role:18} {method.upper()} {path} ({permission}): {status}, policy says "
                                f"{'allowed' if allowed else 'refused (403)'}")
    assert not failures, "\n".join(failures)
