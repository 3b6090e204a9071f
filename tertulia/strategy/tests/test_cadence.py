"""The CM cadence: the recurring tasks' calendar, overdue tasks, marking done, the plan,
reminders, the pages and the API."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone as dt_timezone

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tertulia.core import services as core_services
from tertulia.core.models import AuditEvent, Notification
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS
from tertulia.strategy import cadence
from tertulia.strategy.models import CadencePlan, CadenceTask

pytestmark = pytest.mark.django_db
UTC = dt_timezone.utc


def _kind(key):
    return cadence.KINDS[key]


def test_weekly_report_is_due_every_monday_about_the_week_before():
    plan = CadencePlan()
    got = list(cadence.occurrences(_kind("weekly_report"), plan, date(2026, 11, 25), date(2026, 12, 14)))
    assert got == [(date(2026, 11, 30), date(2026, 11, 23), date(2026, 11, 29)),
                   (date(2026, 12, 7), date(2026, 11, 30), date(2026, 12, 6)),
                   (date(2026, 12, 14), date(2026, 12, 7), date(2026, 12, 13))]


def test_planning_on_friday_is_about_the_next_monday_to_sunday():
    plan = CadencePlan(planning_weekday=4)
    got = list(cadence.occurrences(_kind("weekly_plan"), plan, date(2026, 11, 26), date(2026, 12, 3)))
    assert got == [(date(2026, 11, 27), date(2026, 11, 30), date(2026, 12, 6))]


def test_monthly_quarterly_and_yearly_fall_on_the_first_day_about_the_period_before():
    plan = CadencePlan()
    start, end = date(2026, 11, 15), date(2027, 4, 2)
    assert list(cadence.occurrences(_kind("monthly_competitors"), plan, start, end))[:2] == [
        (date(2026, 12, 1), date(2026, 11, 1), date(2026, 11, 30)),
        (date(2027, 1, 1), date(2026, 12, 1), date(2026, 12, 31))]
    assert list(cadence.occurrences(_kind("quarterly_audit"), plan, start, end)) == [
        (date(2027, 1, 1), date(2026, 10, 1), date(2026, 12, 31)),
        (date(2027, 4, 1), date(2027, 1, 1), date(2027, 3, 31))]
    assert list(cadence.occurrences(_kind("yearly_analysis"), plan, start, end)) == [
        (date(2027, 1, 1), date(2026, 1, 1), date(2026, 12, 31))]


def _age(brand, days):
    type(brand).objects.filter(pk=brand.pk).update(created_at=timezone.now() - timedelta(days=days))
    brand.refresh_from_db()


def test_ensure_tasks_is_idempotent_and_a_new_brand_has_no_backlog(brand_a):
    brand, _people = brand_a
    created = cadence.ensure_tasks(brand)
    today = cadence.today_for(brand)
    assert created > 0 and cadence.ensure_tasks(brand) == 0
    assert not CadenceTask.objects.filter(brand=brand, due_on__lt=today).exists()
    assert CadenceTask.objects.filter(brand=brand, kind="weekly_report").count() >= 9  # ten weeks ahead
    _age(brand, 60)
    cadence.ensure_tasks(brand)
    # Of the occurrences already past, only each kind's latest is owed; older ones are history.
    past = CadenceTask.objects.filter(brand=brand, due_on__lt=today)
    assert past.filter(kind="weekly_report").count() == 1
    assert past.count() == len(set(past.values_list("kind", flat=True)))


def test_overdue_is_judged_on_the_brand_calendar(brand_a, brand_b):
    brand, _ = brand_a
    other, _ = brand_b
    now = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)  # already the 27th in Madrid
    due = date(2026, 11, 26)
    mine = CadenceTask.objects.create(brand=brand, kind="weekly_report", due_on=due, period_start=due, period_end=due)
    CadenceTask.objects.create(brand=other, kind="weekly_report", due_on=due, period_start=due, period_end=due)
    assert cadence.overdue([brand], now=now) == [mine]
    type(brand).objects.filter(pk=brand.pk).update(timezone="America/New_York")  # still the 26th there
    brand.refresh_from_db()
    assert cadence.overdue([brand], now=now) == []
    CadencePlan.objects.create(brand=brand, disabled_kinds=["weekly_report"])
    assert cadence.overdue([brand], now=now + timedelta(days=2)) == []


def test_mark_done_checks_the_role_logs_and_can_be_undone(brand_a):
    brand, people = brand_a
    today = cadence.today_for(brand)
    task = CadenceTask.objects.create(brand=brand, kind="weekly_plan", due_on=today, period_start=today,
                                      period_end=today)
    with pytest.raises(PermissionDenied):
        cadence.do_mark_done(Ctx(people["client_reviewer"]), task)
    done = cadence.do_mark_done(Ctx(people["community_manager"]), task)
    assert done.done_at is not None and done.done_by == people["community_manager"]
    assert AuditEvent.objects.filter(action="cadence.done", brand=brand).exists()
    assert cadence.do_mark_done(Ctx(people["community_manager"]), task, False).done_at is None
    later = today + timedelta(days=30)
    future = CadenceTask.objects.create(brand=brand, kind="yearly_analysis", due_on=later, period_start=later,
                                        period_end=later)
    with pytest.raises(ValidationError):
        cadence.do_mark_done(Ctx(people["owner"]), future)


def test_plan_validates_and_moves_the_weekly_tasks_still_to_come(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["owner"])
    cadence.ensure_tasks(brand)
    for bad in ({"report_weekday": 7}, {"planning_weekday": -1}, {"reminder_hour": 24}, {"enabled_kinds": ["nope"]},
                {"report_weekday": True}):
        args = {"enabled_kinds": list(cadence.KINDS), "report_weekday": 0, "planning_weekday": 4,
                "reminder_hour": 9} | bad
        with pytest.raises(ValidationError):
            cadence.do_update_plan(ctx, brand, **args)
    with pytest.raises(PermissionDenied):
        cadence.do_update_plan(Ctx(people["community_manager"]), brand, enabled_kinds=[], report_weekday=0,
                               planning_weekday=4, reminder_hour=9)
    cadence.do_update_plan(ctx, brand, enabled_kinds=["weekly_report"], report_weekday=2, planning_weekday=4,
                           reminder_hour=8)
    upcoming = CadenceTask.objects.filter(brand=brand, kind="weekly_report", due_on__gte=cadence.today_for(brand))
    assert upcoming.exists() and {t.due_on.weekday() for t in upcoming} == {2}
    today = cadence.today_for(brand)
    assert {t.kind for t in cadence.tasks_for(brand, start=today, end=today + timedelta(days=70))} == {"weekly_report"}


def test_reminders_go_once_after_the_reminder_hour_to_the_people_who_do_the_work(brand_a):
    brand, people = brand_a
    due = date(2026, 11, 30)
    CadenceTask.objects.create(brand=brand, kind="weekly_report", due_on=due, period_start=due, period_end=due)
    early = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)  # 08:30 in Madrid: before 09:00
    assert cadence.send_reminders(early) == 0
    later = datetime(2026, 11, 30, 8, 5, tzinfo=UTC)  # 09:05 in Madrid
    assert cadence.send_reminders(later) == 1
    assert cadence.send_reminders(later + timedelta(hours=1)) == 0
    old = date(2026, 11, 2)
    CadenceTask.objects.create(brand=brand, kind="weekly_plan", due_on=old, period_start=old, period_end=old)
    assert cadence.send_reminders(later + timedelta(hours=2)) == 0  # long overdue: shown, not e-mailed
    notified = set(Notification.objects.filter(kind="cadence").values_list("recipient__username", flat=True))
    assert notified == {people[k].username for k in ("owner", "manager", "community_manager")}
    note = Notification.objects.filter(kind="cadence").first()
    assert "Alpha Brand" in str(note.message) and "2026-11-30" in str(note.message)


def test_cadence_page_lists_links_and_marks_done(client, brand_a):
    brand, people = brand_a
    _age(brand, 20)
    client.force_login(people["community_manager"])
    page = client.get(f"/brands/{brand.pk}/strategy/cadence/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"/brands/{brand.pk}/reports/" in html and "Weekly report to the marketing lead" in html
    assert "About" in html and "hours a week" in html
    task = CadenceTask.objects.filter(brand=brand, due_on__lt=cadence.today_for(brand)).first()
    assert task is not None and "Overdue" in html
    response = client.post(f"/brands/{brand.pk}/strategy/cadence/tasks/{task.pk}/", {"done": "1"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.done_at is not None
    # The plan form is for managers and owners only.
    assert client.post(f"/brands/{brand.pk}/strategy/cadence/plan/", {"report_weekday": "1"}).status_code == 403


def test_calendar_home_shows_overdue_tasks_escaped(client, brand_a):
    brand, people = brand_a
    type(brand).objects.filter(pk=brand.pk).update(name=f"Brand {XSS}")
    due = cadence.today_for(brand) - timedelta(days=2)
    CadenceTask.objects.create(brand=brand, kind="quarterly_audit", due_on=due, period_start=due, period_end=due)
    client.force_login(people["owner"])
    html = client.get(f"/brands/{brand.pk}/calendar/").content.decode()
    assert "Overdue tasks" in html and "Quarterly internal audit" in html
    assert XSS not in html
    assert "Overdue tasks" in client.get("/calendar/").content.decode()


def test_client_reviewer_reads_but_cannot_mark(client, brand_a):
    brand, people = brand_a
    client.force_login(people["client_reviewer"])
    html = client.get(f"/brands/{brand.pk}/strategy/cadence/").content.decode()
    assert "Mark done" not in html
    task = CadenceTask.objects.filter(brand=brand).first()
    assert client.post(f"/brands/{brand.pk}/strategy/cadence/tasks/{task.pk}/", {"done": "1"}).status_code == 403


def test_api_lists_marks_and_refuses_bad_plans(client, brand_a, brand_b):
    brand, people = brand_a
    other, _ = brand_b
    raw = core_services.do_create_token(Ctx(people["owner"]), "t", {brand.pk: "write"})[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    listed = client.get(f"/api/v1/brands/{brand.pk}/cadence/tasks?limit=200", **auth).json()
    assert listed["count"] > 0 and {"label", "link", "overdue"} <= set(listed["items"][0])
    task_id = listed["items"][0]["id"]
    url = f"/api/v1/brands/{brand.pk}/cadence/tasks/{task_id}"
    done = client.post(url, json.dumps({"done": True}), content_type="application/json", **auth)
    assert done.status_code == 200 and done.json()["done_at"]
    assert client.post(url, json.dumps({"done": True, "extra": 1}), content_type="application/json",
                       **auth).status_code == 422
    plan = f"/api/v1/brands/{brand.pk}/cadence/plan"
    bad = client.put(plan, json.dumps({"enabled_kinds": ["<script>"], "report_weekday": 1}),
                     content_type="application/json", **auth)
    assert bad.status_code == 422 and "<script>" not in bad.content.decode()
    assert client.put(plan, json.dumps({"enabled_kinds": [], "report_weekday": 9}), content_type="application/json",
                      **auth).status_code == 422
    assert client.get(f"/api/v1/brands/{other.pk}/cadence/tasks", **auth).status_code == 404
    theirs = CadenceTask.objects.create(brand=other, kind="weekly_report", due_on=date(2026, 1, 5),
                                        period_start=date(2025, 12, 29), period_end=date(2026, 1, 4))
    assert client.post(f"/api/v1/brands/{brand.pk}/cadence/tasks/{theirs.pk}", json.dumps({"done": True}),
                       content_type="application/json", **auth).status_code == 404
    work = client.get(f"/api/v1/brands/{brand.pk}/workload", **auth).json()
    assert work["low_hours"] <= work["high_hours"]
