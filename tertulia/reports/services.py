"""Reports: generating, archiving, sharing, scheduling and e-mailing them.

Public API (the benchmark and the other apps call these):

- ``build_report(brand, kind, period_end, *, language=None) -> ReportData``
- ``render_pdf(data) -> bytes`` (the brand is the data's own)
- ``do_generate_report(ctx, brand, kind, period_end) -> Report``
- ``do_create_share_link`` / ``do_revoke_share_link``
- ``do_save_schedule`` / ``do_delete_schedule``
- ``run_due_schedules(now)``: what the periodic task calls.

Who may do what: reading reports needs VIEW (client reviewers read them too); generating,
sharing and scheduling them needs ``MANAGE`` (owners and managers: a report leaves the team,
by e-mail or a public link).

Scheduling (the database is the truth): a schedule's ``next_run_at`` is claimed with a
conditional UPDATE that moves it to the next run *before* anything is built, so two
consumers that see the same due row never both send it. A report that was built but could not
be e-mailed stays in the archive with the error in words; the next ticks retry the e-mail
(``MAX_SEND_ATTEMPTS``), each attempt claimed the same way.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tertulia.core import roles
from tertulia.core.models import Brand
from tertulia.core.notes import note, source
from tertulia.core.notifications import absolute
from tertulia.core.services import Ctx, _log, _require

from . import registry
from .problems import explain
from .blocks import ReportData, from_json
from .models import MAX_RECIPIENTS, Kind, Report, ReportSchedule

log = logging.getLogger(__name__)

MANAGE = roles.MANAGE_BRAND  # generate, share, schedule
SHARE_DAYS = 30  # a share link's default life
MAX_SHARE_DAYS = 365
MAX_SEND_ATTEMPTS = 5
SEND_HOUR = time(8, 0)  # schedules run at 08:00 in the brand's time zone
MIN_YEAR, MAX_YEAR = 2000, 2100

MSG_BUILD_FAILED = gettext_lazy("The report could not be generated.")
MSG_PDF_FAILED = gettext_lazy("The PDF could not be made.")
MSG_SEND_FAILED = gettext_lazy("The e-mail could not be sent.")
MSG_GAVE_UP = gettext_lazy("The e-mail could not be sent after %(attempts)s attempts.")
# In-flight markers (a claim with a time, in the note's params): a consumer killed while it
# builds or sends leaves one behind, and after its lease the run or the e-mail is claimed again.
MSG_RUNNING = gettext_lazy("This report is being generated and sent; if that is interrupted, it is retried "
                           "automatically.")
MSG_SENDING = gettext_lazy("This report is being sent by e-mail; if that is interrupted, it is retried "
                           "automatically.")
MSG_INTERRUPTED = gettext_lazy("The report could not be generated: it was interrupted %(attempts)s times.")
LEASES = {"RUN_LEASE_SECONDS": 1800.0, "SEND_LEASE_SECONDS": 900.0, "RUN_TRIES": 3}


def lease(key: str) -> float:
    """How long a run or an e-mail being sent counts as in flight (``settings.REPORTS``): longer
    than any build, render or SMTP exchange."""
    return float({**LEASES, **(getattr(settings, "REPORTS", None) or {})}[key])


def _marker(value, message) -> dict | None:
    """The params of an in-flight note ``message`` stored in ``value``, or None."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict) \
            and value[0].get("msgid") == source(message):
        return value[0].get("params") or {}
    return None


# --- Building and rendering --------------------------------------------------------------

def default_period_end(kind: str, today: date) -> date:
    """The last complete period before ``today``: yesterday for the weekly report (the last 7
    days), else the last day of the previous month, quarter or year."""
    if kind == Kind.WEEKLY:
        return today - timedelta(days=1)
    if kind == Kind.MONTHLY:
        return today.replace(day=1) - timedelta(days=1)
    if kind == Kind.QUARTERLY:
        first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        return first - timedelta(days=1)
    if kind == Kind.YEARLY:
        return date(today.year - 1, 12, 31)
    raise ValidationError({"kind": _("Unknown report.")})


def _check(kind: str, period_end: date, brand: Brand) -> None:
    if kind not in Kind.values:
        raise ValidationError({"kind": _("Unknown report.")})
    if not isinstance(period_end, date) or not (MIN_YEAR <= period_end.year <= MAX_YEAR):
        raise ValidationError({"period_end": _("A date is out of range: use years 2000 to 2100.")})
    if period_end > timezone.now().astimezone(brand.tzinfo).date():
        raise ValidationError({"period_end": _("A report can only cover days that have begun.")})


def build_report(brand: Brand, kind: str, period_end: date, *, language: str | None = None) -> ReportData:
    """The report's data (no permission check: callers have one)."""
    return registry.build(brand, kind, period_end, language=language)


def render_pdf(data: ReportData | dict) -> bytes:
    from .render import render_pdf as render

    if isinstance(data, dict):
        data = from_json(data)
    brand = Brand.objects.get(pk=data.brand_id)
    return render(data, brand)


def _plain(value):
    """JSON-ready: Decimals as floats, dates as ISO text (the archive is a JSONField)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _store(brand: Brand, data: ReportData, *, created_by=None, schedule: ReportSchedule | None = None,
           ctx: Ctx | None = None) -> Report:
    """Archive a built report with its PDF (a PDF failure keeps the report, with why). The PDF is
    rendered before the transaction opens: on SQLite a write transaction locks the database, and
    rendering takes seconds."""
    report = Report(brand=brand, kind=data.kind, title=data.title[:300], period_start=data.period_start,
                    period_end=data.period_end, language=data.language, data=_plain(data.to_json()),
                    created_by=created_by, schedule=schedule,
                    recipients=list(schedule.recipients) if schedule else [])
    try:
        pdf = render_pdf(data)
    except Exception as exc:  # noqa: BLE001 - WeasyPrint raises many kinds; the report stays
        log.exception("report PDF failed")
        report.send_error = note(MSG_PDF_FAILED) + explain(exc)
    else:
        report.pdf.save(f"{data.kind}-{data.period_end.isoformat()}.pdf", ContentFile(pdf), save=False)
    with transaction.atomic():
        report.save()
        if ctx is not None:
            _log(ctx, "report.generate", brand=brand, obj=report,
                 changes={"kind": data.kind, "period_end": data.period_end.isoformat()})
    return report


def do_generate_report(ctx: Ctx, brand: Brand, kind: str, period_end: date) -> Report:
    """Build, render and archive a report now (from the page or the API)."""
    _require(ctx, brand, MANAGE)
    _check(kind, period_end, brand)
    data = build_report(brand, kind, period_end)
    return _store(brand, data, created_by=ctx.user, ctx=ctx)


def report_data(report: Report) -> ReportData:
    return from_json(report.data)


def summary_sentences(report: Report, limit: int = 4) -> list[str]:
    """The first sentences of the executive summary (the e-mail's body)."""
    for section in report.data.get("sections", []):
        if section.get("id") == "summary":
            for block in section.get("blocks", []):
                if block.get("type") == "paragraphs":
                    return [str(s) for s in block.get("items", [])][:limit]
    return []


# --- Share links -----------------------------------------------------------------------

@transaction.atomic
def do_create_share_link(ctx: Ctx, report: Report, *, days: int | None = SHARE_DAYS) -> str:
    """A new public read-only link (any earlier one stops working). Returns the raw token,
    shown once; only its hash is stored. ``days=None`` or 0: no expiry."""
    _require(ctx, report.brand, MANAGE)
    if days is not None:
        try:
            days = int(days)
        except (TypeError, ValueError):
            raise ValidationError({"days": _("Enter a whole number of days.")}) from None
        if not 0 <= days <= MAX_SHARE_DAYS:
            raise ValidationError({"days": _("A link can last from 1 to %(max)s days (0: no expiry).")
                                   % {"max": MAX_SHARE_DAYS}})
    raw, hashed = Report.new_token()
    now = timezone.now()
    report.share_token_hash = hashed
    report.share_created_at = now
    report.share_expires_at = now + timedelta(days=days) if days else None
    report.share_revoked_at = None
    report.save(update_fields=["share_token_hash", "share_created_at", "share_expires_at", "share_revoked_at"])
    _log(ctx, "report.share", brand=report.brand, obj=report,
         changes={"expires_at": report.share_expires_at.isoformat() if report.share_expires_at else None})
    return raw


@transaction.atomic
def do_revoke_share_link(ctx: Ctx, report: Report) -> Report:
    _require(ctx, report.brand, MANAGE)
    if report.share_token_hash and report.share_revoked_at is None:
        Report.objects.filter(pk=report.pk).update(share_revoked_at=timezone.now())
        report.refresh_from_db(fields=["share_revoked_at"])
        _log(ctx, "report.share_revoke", brand=report.brand, obj=report)
    return report


@transaction.atomic
def do_delete_report(ctx: Ctx, report: Report) -> None:
    _require(ctx, report.brand, MANAGE)
    _log(ctx, "report.delete", brand=report.brand, obj=report,
         changes={"kind": report.kind, "period_end": report.period_end.isoformat()})
    pdf = report.pdf.name
    report.delete()
    if pdf:
        transaction.on_commit(lambda: Report._meta.get_field("pdf").storage.delete(pdf))


# --- Schedules -------------------------------------------------------------------------

def clean_recipients(value) -> list[str]:
    """E-mail addresses from a list or from text (commas, semicolons, spaces or lines):
    validated, without duplicates, at most MAX_RECIPIENTS."""
    if isinstance(value, str):
        value = value.replace(";", ",").replace("\n", ",").replace(" ", ",").split(",")
    if not isinstance(value, (list, tuple)):
        raise ValidationError({"recipients": _("Enter the e-mail addresses, separated by commas.")})
    out, seen, bad = [], set(), []
    for item in value:
        email = str(item).strip()
        if not email:
            continue
        try:
            if len(email) > 254 or "\x00" in email:
                raise ValidationError("too long")
            validate_email(email)
        except ValidationError:
            bad.append(email[:60])
            continue
        if email.lower() not in seen:
            seen.add(email.lower())
            out.append(email)
    if bad:
        raise ValidationError({"recipients": _("These are not valid e-mail addresses: %(emails)s")
                               % {"emails": ", ".join(bad[:5])}})
    if not out:
        raise ValidationError({"recipients": _("Enter at least one e-mail address.")})
    if len(out) > MAX_RECIPIENTS:
        raise ValidationError({"recipients": _("At most %(max)s recipients.") % {"max": MAX_RECIPIENTS}})
    return out


def next_run(kind: str, weekday: int, tz, after: datetime) -> datetime:
    """The first run strictly after ``after`` (aware), in UTC: weekly on ``weekday`` at 08:00
    in ``tz``; monthly on the 1st, quarterly on the first day of a quarter, yearly on 1 January,
    at 08:00 in ``tz``. 08:00 exists on every day (DST changes happen at night), so the wall
    clock time is kept across DST: the UTC instant moves by an hour."""
    local = after.astimezone(tz)
    today = local.date()

    def at(d: date) -> datetime:
        return datetime.combine(d, SEND_HOUR, tzinfo=tz).astimezone(UTC)

    if kind == Kind.WEEKLY:
        d = today + timedelta(days=(int(weekday) - today.weekday()) % 7)
        while at(d) <= after:
            d += timedelta(days=7)
        return at(d)
    step = {Kind.MONTHLY: 1, Kind.QUARTERLY: 3, Kind.YEARLY: 12}.get(kind)
    if step is None:
        raise ValidationError({"kind": _("Unknown report.")})
    month = ((today.month - 1) // step) * step + 1
    year = today.year
    while True:
        candidate = at(date(year, month, 1))
        if candidate > after:
            return candidate
        month += step
        if month > 12:
            month -= 12
            year += 1


SCHEDULE_FIELDS = ("kind", "weekday", "recipients", "active")


def do_save_schedule(ctx: Ctx, brand: Brand, schedule: ReportSchedule | None = None, **fields) -> ReportSchedule:
    _require(ctx, brand, MANAGE)
    if schedule is not None and schedule.brand_id != brand.pk:
        raise PermissionDenied
    with transaction.atomic():
        schedule = schedule or ReportSchedule(brand=brand, created_by=ctx.user)
        before = {f: getattr(schedule, f) for f in SCHEDULE_FIELDS} if schedule.pk else {}
        for key, value in fields.items():
            if key not in SCHEDULE_FIELDS:
                raise ValidationError({key: _("Unknown field.")})
            if key == "recipients":
                value = clean_recipients(value)
            elif key == "kind" and value not in Kind.values:
                raise ValidationError({"kind": _("Unknown report.")})
            elif key == "weekday":
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    value = -1
                if not 0 <= value <= 6:
                    raise ValidationError({"weekday": _("Choose a day of the week.")})
            elif key == "active":
                value = bool(value)
            setattr(schedule, key, value)
        if not schedule.recipients:
            raise ValidationError({"recipients": _("Enter at least one e-mail address.")})
        timing_changed = (not schedule.pk or before.get("kind") != schedule.kind
                          or before.get("weekday") != schedule.weekday
                          or (schedule.active and not before.get("active")))
        if timing_changed:
            schedule.next_run_at = next_run(schedule.kind, schedule.weekday, brand.tzinfo, timezone.now())
            schedule.last_error = []
        schedule.full_clean(exclude=["recipients", "next_run_at", "last_error", "created_by"])
        created = schedule.pk is None
        schedule.save()
        after = {f: getattr(schedule, f) for f in SCHEDULE_FIELDS}
        changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
        _log(ctx, "report_schedule.create" if created else "report_schedule.update", brand=brand, obj=schedule,
             changes=changes)
    return schedule


@transaction.atomic
def do_delete_schedule(ctx: Ctx, schedule: ReportSchedule) -> None:
    _require(ctx, schedule.brand, MANAGE)
    _log(ctx, "report_schedule.delete", brand=schedule.brand, obj=schedule,
         changes={"kind": schedule.kind, "recipients": schedule.recipients})
    schedule.delete()


# --- Running schedules and sending ----------------------------------------------------------

def claim_schedule(schedule: ReportSchedule, now: datetime) -> bool:
    """Move the schedule's next run forward, if nobody did it first (a conditional UPDATE on
    the due time read): the one consumer that wins builds and sends this run."""
    following = next_run(schedule.kind, schedule.weekday, schedule.brand.tzinfo, max(now, schedule.next_run_at))
    # The claim leaves a marker with the run's due time: if this consumer dies before the report
    # is archived, ``recover_lost_runs`` builds that run again once the lease has passed.
    won = ReportSchedule.objects.filter(pk=schedule.pk, active=True, next_run_at=schedule.next_run_at).update(
        next_run_at=following, last_run_at=now,
        last_error=note(MSG_RUNNING, run=schedule.next_run_at.isoformat(), tries=1))
    return bool(won)


def run_schedule(schedule: ReportSchedule, now: datetime, run_at: datetime | None = None) -> Report | None:
    """Build, archive and send one claimed run. The period ends the day before the run's
    (local) date: the last 7 days, or the month/quarter/year that just ended."""
    brand = schedule.brand
    run_day = (run_at or schedule.next_run_at).astimezone(brand.tzinfo).date()
    try:
        data = build_report(brand, schedule.kind, run_day - timedelta(days=1))
        report = _store(brand, data, schedule=schedule)
    except Exception as exc:  # noqa: BLE001 - recorded in words on the schedule's page
        log.exception("scheduled report %s failed", schedule.pk)
        ReportSchedule.objects.filter(pk=schedule.pk).update(last_error=note(MSG_BUILD_FAILED) + explain(exc))
        return None
    # Archived: the run is no longer lost if we die now (its report exists; the e-mail has its
    # own claim). A report newer than the claim also stops the recovery, for the instant between.
    ReportSchedule.objects.filter(pk=schedule.pk, last_run_at=now).update(last_error=[])
    send_report(report, now)
    return report


def recover_lost_runs(now: datetime) -> int:
    """Runs whose consumer died after the claim and before the report was archived (killed while
    building or rendering): the marker is still there, its lease has passed and no report of
    the schedule is newer than the claim. Each is claimed again (conditional UPDATE on the claim
    time) and built for the same run; after ``RUN_TRIES`` interruptions the schedule shows why."""
    cutoff = now - timedelta(seconds=lease("RUN_LEASE_SECONDS"))
    archived = Report.objects.filter(schedule=OuterRef("pk"), created_at__gte=OuterRef("last_run_at"))
    stale = (ReportSchedule.objects.filter(active=True, last_run_at__lte=cutoff, brand__deleted_at__isnull=True)
             .exclude(last_error=[]).exclude(Exists(archived)).select_related("brand", "brand__organization")[:50])
    recovered = 0
    for schedule in stale:
        params = _marker(schedule.last_error, MSG_RUNNING)
        if params is None:
            continue  # a recorded failure, not a run in flight
        tries = int(params.get("tries") or 1) + 1
        if tries > lease("RUN_TRIES"):
            ReportSchedule.objects.filter(pk=schedule.pk, last_run_at=schedule.last_run_at).update(
                last_error=note(MSG_INTERRUPTED, attempts=tries - 1))
            continue
        run_at = datetime.fromisoformat(params["run"])
        if not ReportSchedule.objects.filter(pk=schedule.pk, last_run_at=schedule.last_run_at).update(
                last_run_at=now, last_error=note(MSG_RUNNING, run=params["run"], tries=tries)):
            continue  # another consumer took it over first
        log.warning("scheduled report %s: the run of %s was interrupted; building it again", schedule.pk, run_at)
        run_schedule(schedule, now, run_at)
        recovered += 1
    return recovered


def run_due_schedules(now: datetime | None = None) -> dict:
    """What the periodic task does: retry the e-mails that failed, then run what is due."""
    now = now or timezone.now()
    retried = retry_unsent(now)
    ran = skipped = 0
    recovered = recover_lost_runs(now)
    due = (ReportSchedule.objects.filter(active=True, next_run_at__lte=now, brand__deleted_at__isnull=True)
           .select_related("brand", "brand__organization").order_by("next_run_at")[:100])
    for schedule in due:
        if not claim_schedule(schedule, now):
            skipped += 1
            continue
        run_schedule(schedule, now)
        ran += 1
    result = {"ran": ran, "skipped": skipped, "retried": retried}
    if recovered:
        result["recovered"] = recovered
    return result


def retry_unsent(now: datetime) -> int:
    # A failed attempt has its error recorded; one with the "being sent" marker is still being
    # sent by another consumer and is left alone until its lease has passed (then that consumer
    # died: the e-mail is sent again, see ``send_report``). No error and no marker: an attempt of
    # the old kind in flight, left alone.
    pending = (Report.objects.filter(schedule__isnull=False, sent_at__isnull=True, send_attempts__gte=1,
                                     send_attempts__lt=MAX_SEND_ATTEMPTS, brand__deleted_at__isnull=True)
               .exclude(recipients=[]).exclude(send_error=[]).select_related("brand", "schedule")[:50])
    cutoff = now - timedelta(seconds=lease("SEND_LEASE_SECONDS"))

    def in_flight(report: Report) -> bool:
        params = _marker(report.send_error, MSG_SENDING)
        return params is not None and datetime.fromisoformat(params["since"]) > cutoff

    return sum(1 for report in pending if not in_flight(report) and send_report(report, now))


def _email(report: Report) -> EmailMessage:
    brand = report.brand
    with translation.override(report.language or brand.language):
        from .render import day

        period = f"{day(report.period_start)} – {day(report.period_end)}"
        lines = [report.title, period, ""]
        lines += summary_sentences(report)
        lines += ["", _("The full report is attached as a PDF. In Tertulia: %(link)s")
                  % {"link": absolute(reverse("report_detail", args=[brand.pk, report.pk]))}]
        subject = f"[Tertulia · {brand.name}] {report.title} ({period})".replace("\n", " ").replace("\r", " ")
        # One Message-ID per report, the same on every attempt: should an attempt be repeated
        # (a consumer killed after the server accepted the message, before we recorded it),
        # mail systems that deduplicate by Message-ID keep one copy.
        domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
        message = EmailMessage(subject=subject[:250], body="\n".join(lines) + "\n",
                               from_email=settings.DEFAULT_FROM_EMAIL, to=[settings.DEFAULT_FROM_EMAIL],
                               bcc=list(report.recipients),
                               headers={"Message-ID": f"<report-{report.pk}-{report.created_at:%Y%m%d%H%M%S}"
                                                      f"@{domain}>"})
    with report.pdf.open("rb") as fh:
        message.attach(f"{report.kind}-{report.period_end.isoformat()}.pdf", fh.read(), "application/pdf")
    return message


def send_report(report: Report, now: datetime | None = None) -> bool:
    """E-mail an archived report to its recipients (Bcc: they do not see each other). Each
    attempt is claimed by a conditional UPDATE of ``send_attempts``, so it is never sent twice
    at once; a failure is recorded in words on the report and its schedule.

    At least once: the claim stores a "being sent" marker with its time; a consumer killed
    before the server accepted the message leaves it behind, and once the lease has passed the
    next tick sends again. The one window for a second copy is between the server's "250 OK" to
    the message and our UPDATE of ``sent_at`` (milliseconds); both copies carry one Message-ID."""
    now = now or timezone.now()
    attempts = report.send_attempts
    if report.sent_at is not None or not report.recipients:
        return False
    if not Report.objects.filter(pk=report.pk, sent_at__isnull=True, send_attempts=attempts).update(
            send_attempts=F("send_attempts") + 1, send_error=note(MSG_SENDING, since=now.isoformat())):
        return False
    report.send_attempts = attempts + 1
    try:
        if not report.pdf:
            pdf = render_pdf(report.data)
            report.pdf.save(f"{report.kind}-{report.period_end.isoformat()}.pdf", ContentFile(pdf), save=False)
            Report.objects.filter(pk=report.pk).update(pdf=report.pdf.name)
        _email(report).send()
    except Exception as exc:  # noqa: BLE001 - SMTP, DNS, disk: all are "could not send", retried
        log.warning("report %s e-mail failed: %s", report.pk, exc)
        message = MSG_GAVE_UP if report.send_attempts >= MAX_SEND_ATTEMPTS else MSG_SEND_FAILED
        params = {"attempts": report.send_attempts} if message is MSG_GAVE_UP else {}
        error = note(message, **params) + explain(exc)
        Report.objects.filter(pk=report.pk).update(send_error=error)
        if report.schedule_id:
            ReportSchedule.objects.filter(pk=report.schedule_id).update(last_error=error)
        report.send_error = error
        return False
    Report.objects.filter(pk=report.pk).update(sent_at=now, send_error=[])
    if report.schedule_id:
        ReportSchedule.objects.filter(pk=report.schedule_id).update(last_sent_at=now, last_error=[])
    report.sent_at, report.send_error = now, []
    return True

