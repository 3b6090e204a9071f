"""Helpers shared by the web, isolation and invitation tests (not a test module).

Objects are built through the same services the app uses; only an invitation's raw token
needs the model directly, because ``do_invite`` hands the raw token to the e-mail task and
never returns it (by design: it is not stored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone

from tertulia.content import services as content_services
from tertulia.content.models import (
    BrandWord,
    CalendarFeedToken,
    Campaign,
    Feed,
    Idea,
    KeyDate,
    MediaAsset,
    Post,
    PostComment,
    ReviewLink,
    ShortLink,
    UtmPreset,
    WeekTheme,
)
from tertulia.core import services
from tertulia.core.models import Brand, Invitation, KnowledgeEntry, Membership, Notification, PersonalAccessToken
from tertulia.core.services import Ctx
from tertulia.networks import services as account_services
from tertulia.networks.models import SocialAccount
from tertulia.publishing.models import PostTarget, QueueSlot
from tertulia.strategy import services as strategy_services
from tertulia.strategy.models import KPI, ContentPillar, Objective

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"

# Every role, and the ones a permission is granted to (mirrors roles.ROLE_PERMISSIONS; the
# tests that use these also check the mapping itself, so a change there is noticed).
ALL_ROLES = ("owner", "manager", "community_manager", "analyst", "client_reviewer")


def html(response) -> str:
    return response.content.decode()


def assert_escaped(page: str, raw: str = XSS, escaped: str = XSS_ESCAPED) -> None:
    """``raw`` reached the page only as text: escaped present, raw markup absent."""
    assert escaped in page, f"{escaped!r} not found in the page"
    assert "<script>alert" not in page, "raw <script> from user input reached the HTML"
    assert raw not in page


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def make_invitation(brand: Brand, inviter, email: str, role: str = "analyst", *,
                    expires_in: timedelta | None = None) -> tuple[Invitation, str]:
    raw, token_hash = Invitation.new_token()
    inv = Invitation.objects.create(
        brand=brand, email=email, role=role, token_hash=token_hash, invited_by=inviter,
        expires_at=timezone.now() + (expires_in or timedelta(days=settings.INVITATION_TTL_DAYS)),
    )
    return inv, raw


@dataclass
class World:
    """One brand with one object of every kind a URL can name, and the strings that would
    betray it if they showed up in someone else's page."""

    brand: Brand
    people: dict
    entry: KnowledgeEntry
    account: SocialAccount
    membership: Membership  # a non-owner member's membership
    invitation: Invitation
    invitation_raw: str
    token: PersonalAccessToken
    token_raw: str
    secrets: list[str] = field(default_factory=list)
    link: ShortLink | None = None  # a public short link (its target names nothing of the brand)
    media: MediaAsset | None = None  # an image in the brand's media library
    objective: Objective | None = None  # a strategy objective, with one KPI target
    kpi: KPI | None = None
    pillar: ContentPillar | None = None  # a content pillar (40 % of the mix)
    # Planning, composing and publishing (issues 3 and 4).
    post: Post | None = None  # a post in review, with one target on ``account``
    target: PostTarget | None = None
    idea: Idea | None = None
    feed: Feed | None = None
    theme: WeekTheme | None = None
    key_date: KeyDate | None = None
    comment: PostComment | None = None
    review_link: ReviewLink | None = None
    review_raw: str = ""  # the review link's secret
    calendar_token: CalendarFeedToken | None = None
    calendar_raw: str = ""  # the iCal feed's secret
    word: BrandWord | None = None
    preset: UtmPreset | None = None
    slot: QueueSlot | None = None
    notification: Notification | None = None  # addressed to the owner
    campaign: Campaign | None = None
    # The inbox (issue 6): one conversation with one inbound comment from ``author``, a reply
    # written to it, a saved reply, a rule and a label.
    author: object = None
    conversation: object = None
    interaction: object = None
    reply: object = None
    saved_reply: object = None
    rule: object = None
    label: object = None
    # Giveaways (issue 9): a contest on the inbox's post, its commitment published, whose one
    # entry is the inbox's comment.
    contest: object = None
    giveaway_entry: object = None
    # Listening (issue 7): a competitor with an account and a post, a query, a feed source, a
    # mention that matched the query, and a spike alert on it.
    competitor: object = None
    competitor_account: object = None
    competitor_post: object = None
    listening_query: object = None
    source: object = None
    mention: object = None
    alert: object = None
    # The CM cadence: one overdue task.
    cadence_task: object = None
    # Reports (issue 8): an archived report with an active share link, and a schedule.
    report: object = None
    report_raw: str = ""  # the share link's secret
    report_schedule: object = None
    # Data safety (issue 10): a ready brand export (a small zip in the media storage).
    export: object = None


def populate(brand: Brand, people: dict, marker: str) -> World:
    """Give ``brand`` one object of each kind, all named after ``marker``."""
    owner = people["owner"]
    ctx = Ctx(owner, via="test")
    low = marker.lower()
    entry = services.do_save_knowledge(
        ctx, brand, kind="faq", title=f"{marker} secret recipe", answer=f"{marker} answer about opening hours",
        department=f"{marker} department", keywords=[f"{low}kw"],
    )
    account = account_services.do_add_account(
        ctx, brand, network="mastodon", handle=f"@{low}quokka", display_name=f"{marker} Quokka Display",
        base_url="https://mastodon.example", access_token=f"{low}-access-token-plaintext",
    )
    member = next(u for role, u in people.items() if role != "owner")
    membership = Membership.objects.get(brand=brand, user=member)
    invitation, invitation_raw = make_invitation(brand, owner, f"{low}.invitee@example.com", "analyst")
    token, token_raw = services.do_create_token(ctx, f"{low}-token-name", {brand.pk: "write"})
    secrets = [
        brand.name, brand.organization.name, entry.title, entry.answer, account.handle, account.display_name,
        f"{low}-access-token-plaintext", member.email, owner.email, invitation.email, token.name, token_raw,
        invitation_raw,
    ]
    link = content_services.do_create_short_link(ctx, brand, target_url="https://example.org/offer")
    media = content_services.do_upload_media(ctx, brand, generated_png(), alt_text=f"{marker} lighthouse alt text",
                                             tags=[f"{low}tag"])
    secrets.append(media.alt_text)
    from tertulia.reports import branding  # the reports' logo (GET /api/v1/brands/{id}/logo)

    branding.do_set_brand_logo(ctx, brand, branding.process_logo(generated_png(300, 100)))
    objective = strategy_services.do_create_objective(
        ctx, brand, name=f"{marker} objective to conquer", period_start=date(2030, 1, 1), period_end=date(2030, 3, 31),
        kpis=[("engagement_rate_reach", "4.5")],
    )
    kpi = objective.kpis.get()
    pillar = strategy_services.do_save_pillar(ctx, brand, name=f"{marker} pillar of wisdom", target_share=40)
    secrets += [objective.name, pillar.name]
    world = World(brand, people, entry, account, membership, invitation, invitation_raw, token, token_raw, secrets,
                  link=link, media=media, objective=objective, kpi=kpi, pillar=pillar)
    _populate_planning(world, ctx, marker)
    _populate_inbox(world, marker)
    _populate_export(world)
    return world


def _populate_export(w: World) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from tertulia.core.models import BrandExport

    name = default_storage.save(f"exports/brand-{w.brand.pk}/world.zip", ContentFile(b"PK\x05\x06" + b"\x00" * 18))
    w.export = BrandExport.objects.create(brand=w.brand, requested_by=w.people["owner"], state=BrandExport.State.READY,
                                          file=name, size=22, finished_at=timezone.now(),
                                          expires_at=timezone.now() + timedelta(hours=1))


def _populate_inbox(w: World, marker: str) -> None:
    from tertulia.inbox import services as inbox
    from tertulia.inbox.models import InboxRule, Interaction, Label, OutgoingReply, SavedReply

    brand, owner = w.brand, w.people["owner"]
    low = marker.lower()
    fan = inbox.IncomingAuthor(external_id=f"{low}-fan-1", handle=f"@{low}fan", display_name=f"{marker} Fan Name")
    inbox.ingest_interactions(w.account, [inbox.IncomingInteraction(
        external_id=f"{low}-comment-1", kind="comment", author=fan, text=f"{marker} question about the opening hours?",
        created_at=timezone.now() - timedelta(minutes=30), root_external_id=f"{low}-post-1")])
    w.interaction = Interaction.objects.get(brand=brand, external_id=f"{low}-comment-1")
    w.conversation = w.interaction.conversation
    w.author = w.interaction.author
    w.reply = OutgoingReply.objects.create(
        brand=brand, conversation=w.conversation, in_reply_to=w.interaction, account=w.account,
        text=f"{marker} reply draft text", marker=f"{low}-marker", state=OutgoingReply.State.FAILED,
        error="test", created_by=owner)
    w.saved_reply = SavedReply.objects.create(brand=brand, title=f"{marker} saved reply title", language="es",
                                              text=f"{marker} saved reply text {{name}}", created_by=owner)
    w.rule = InboxRule.objects.create(brand=brand, name=f"{marker} rule name", conditions={"intents": ["complaint"]},
                                      actions={"labels": [f"{low}label"]})
    w.label = Label.objects.create(brand=brand, name=f"{low}label")
    w.secrets += [w.interaction.text, fan.display_name, w.reply.text, w.saved_reply.title, w.saved_reply.text,
                  w.rule.name]
    _populate_giveaway(w, marker)
    _populate_cadence(w)
    _populate_reports(w, marker)
    _populate_listening(w, marker)


def _populate_listening(w: World, marker: str) -> None:
    from tertulia.listening.models import (
        Competitor,
        CompetitorAccount,
        CompetitorPost,
        ListeningQuery,
        Mention,
        MentionMatch,
        Source,
        SpikeAlert,
    )

    brand, low, now = w.brand, marker.lower(), timezone.now()
    w.competitor = Competitor.objects.create(brand=brand, name=f"{marker} Rival Company")
    w.competitor_account = CompetitorAccount.objects.create(brand=brand, competitor=w.competitor, network="mastodon",
                                                            handle=f"@{low}rival@mastodon.example")
    w.competitor_post = CompetitorPost.objects.create(
        brand=brand, account=w.competitor_account, external_id=f"{low}-rival-post", published_at=now - timedelta(days=1),
        text=f"{marker} rival post about pastries", likes=10, comments=2)
    w.listening_query = ListeningQuery.objects.create(brand=brand, name=f"{marker} query name",
                                                      text=f'"{low} lighthouse" OR #{low}faro')
    w.source = Source.objects.create(brand=brand, kind=Source.Kind.FEED, name=f"{marker} feed source",
                                     url=f"https://{low}.example/feed.xml")
    w.mention = Mention.objects.create(
        brand=brand, source=w.source, network="web", external_id=f"https://{low}.example/news/1",
        url=f"https://{low}.example/news/1", site=f"{low}.example", author_name=f"{marker} Journalist",
        text=f"{marker} lighthouse mention text", created_at=now - timedelta(hours=3), sentiment="negative")
    MentionMatch.objects.create(brand=brand, mention=w.mention, query=w.listening_query, created_at=w.mention.created_at,
                                sentiment="negative")
    w.alert = SpikeAlert.objects.create(
        brand=brand, query=w.listening_query, kind=SpikeAlert.Kind.NEGATIVE, window_start=now - timedelta(hours=1),
        window_end=now, count=30, negative=20, baseline=4.0, samples=[w.mention.pk])
    w.secrets += [w.competitor.name, w.competitor_post.text, w.listening_query.name, w.source.name, w.mention.text,
                  w.mention.author_name]


def _populate_cadence(w: World) -> None:
    from tertulia.strategy.models import CadenceTask

    today = timezone.localdate()
    w.cadence_task = CadenceTask.objects.create(brand=w.brand, kind="weekly_report", due_on=today - timedelta(days=3),
                                                period_start=today - timedelta(days=10),
                                                period_end=today - timedelta(days=4))


def _populate_reports(w: World, marker: str) -> None:
    from tertulia.reports.blocks import Paragraphs, ReportData, Section
    from tertulia.reports.models import Report, ReportSchedule

    today = timezone.localdate()
    data = ReportData(kind="weekly", brand_id=w.brand.pk, language="en", title=f"{marker} weekly report title",
                      period_start=today - timedelta(days=7), period_end=today - timedelta(days=1),
                      sections=[Section(id="summary", title="Summary",
                                        blocks=[Paragraphs(items=[f"{marker} report summary sentence"])])])
    raw, hashed = Report.new_token()
    w.report = Report.objects.create(
        brand=w.brand, kind="weekly", title=data.title, period_start=data.period_start, period_end=data.period_end,
        language="en", data=data.to_json(), created_by=w.people["owner"], share_token_hash=hashed,
        share_created_at=timezone.now(), share_expires_at=timezone.now() + timedelta(days=7))
    w.report_raw = raw
    w.report_schedule = ReportSchedule.objects.create(
        brand=w.brand, kind="weekly", weekday=0, recipients=[f"{marker.lower()}.boss@example.com"],
        next_run_at=timezone.now() + timedelta(days=2), created_by=w.people["owner"])
    w.secrets += [w.report.title, f"{marker} report summary sentence", w.report_raw,
                  f"{marker.lower()}.boss@example.com"]


def _populate_giveaway(w: World, marker: str) -> None:
    from tertulia.giveaways import services as giveaways

    ctx = Ctx(w.people["owner"], via="test")
    now = timezone.now()
    w.contest = giveaways.do_create_contest(
        ctx, w.brand, title=f"{marker} giveaway of the lighthouse", prize=f"{marker} prize basket",
        starts_at=now - timedelta(hours=2), ends_at=now + timedelta(days=2),
        posts=[(w.account, f"{marker.lower()}-post-1")])
    giveaways.do_publish_commitment(ctx, w.contest)
    giveaways.collect(w.contest)
    w.giveaway_entry = w.contest.entries.get()
    w.secrets += [w.contest.title, w.contest.prize]


def _populate_planning(w: World, ctx: Ctx, marker: str) -> None:
    """Posts, ideas, the calendar's objects, review and publishing rows."""
    import hashlib
    import secrets as _secrets
    from datetime import time

    brand, owner = w.brand, w.people["owner"]
    low = marker.lower()
    w.campaign = content_services.do_create_campaign(ctx, brand, name=f"{marker} campaign of spring")
    w.post = content_services.do_create_post(
        ctx, brand, text=f"{marker} post about the lighthouse", accounts=[w.account], pillar=w.pillar,
        campaign=w.campaign, scheduled_at=timezone.now() + timedelta(days=3), submit=True,
    )
    w.target = w.post.targets.get()
    w.feed = Feed.objects.create(brand=brand, url=f"https://{low}.example/feed.xml", title=f"{marker} feed title")
    w.idea = Idea.objects.create(brand=brand, title=f"{marker} idea for a thread", feed=w.feed, created_by=owner)
    today = timezone.localdate()
    w.theme = WeekTheme.objects.create(brand=brand, week_start=today - timedelta(days=today.weekday()),
                                       theme=f"{marker} theme of the week")
    w.key_date = KeyDate.objects.create(brand=brand, date=today + timedelta(days=5), name=f"{marker} key day")
    w.comment = PostComment.objects.create(brand=brand, post=w.post, author=owner, body=f"{marker} comment body")
    w.review_raw = _secrets.token_urlsafe(32)
    w.review_link = ReviewLink.objects.create(
        brand=brand, post=w.post, token_hash=hashlib.sha256(w.review_raw.encode()).hexdigest(),
        reviewer_name=f"{marker} client reviewer", created_by=owner, expires_at=timezone.now() + timedelta(days=7),
    )
    w.calendar_raw = _secrets.token_urlsafe(32)
    w.calendar_token = CalendarFeedToken.objects.create(
        brand=brand, user=owner, token_hash=hashlib.sha256(w.calendar_raw.encode()).hexdigest())
    w.word = BrandWord.objects.create(brand=brand, word=f"{low}brandword", added_by=owner)
    w.preset = UtmPreset.objects.create(brand=brand, network="mastodon", utm_source=f"{low}source")
    w.slot = QueueSlot.objects.create(brand=brand, weekday=1, time=time(9, 30))
    w.notification = Notification.objects.create(
        recipient=owner, brand=brand, kind="test",
        message=[{"msgid": "%(text)s", "params": {"text": f"{marker} notification text"}}],
        link=f"/brands/{brand.pk}/")
    w.secrets += [w.campaign.name, w.post.text, w.feed.title, w.feed.url, w.idea.title, w.theme.theme,
                  w.key_date.name, w.comment.body, w.review_link.reviewer_name, w.review_raw, w.calendar_raw,
                  w.word.word, w.preset.utm_source, f"{marker} notification text"]


def generated_png(width: int = 640, height: int = 480, color=(200, 120, 40)):
    """A real PNG made with Pillow (no binary fixtures), as an upload-like file object."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    out.seek(0)
    out.name = "generated.png"
    return out


def leaks(response, secrets) -> list[str]:
    """The secrets found in a response's body or its redirect target."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    body = raw.decode(errors="replace")
    location = response.headers.get("Location", "")
    return [s for s in secrets if s and (s in body or s in location)]


_PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")


def route_params(route: str) -> list[str]:
    return [m.group("name") for m in _PARAM.finditer(route)]


def fill_route(route: str, values: dict) -> str:
    return "/" + _PARAM.sub(lambda m: str(values[m.group("name")]), route)
