"""Public pages of the content app."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.http import Http404, HttpResponseRedirect
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .models import ShortLink
from .services import Click, record_link_clicks, safe_redirect_target, tracked_url

# Link-preview fetchers, crawlers and scripts: they follow links without a person behind them.
BOT_USER_AGENT = re.compile(
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|embedly|whatsapp|telegram|curl|wget|"
    r"python-|httpx|go-http|java/|headless|okhttp|axios|node-fetch|mastodon|bluesky|pleroma|misskey",
    re.IGNORECASE,
)


@never_cache
@require_safe
def short_link(request, slug: str):
    """`/l/<slug>`: redirect to the link's URL with its UTM parameters and count the click.

    Public by design: the slug is what people click in a post. This is the one view that
    reads ShortLink without a user's brand scope; it reveals nothing but the target URL,
    which the post itself publishes. No personal data is stored: no IP, no user agent, only
    the referring site's host, and HEAD requests and bots are not counted.
    """
    link = (ShortLink.objects.filter(slug=slug, brand__deleted_at__isnull=True).first()  # a deleted brand's: gone
            if re.fullmatch(r"[A-Za-z0-9_-]{1,16}", slug) else None)
    if link is None or not safe_redirect_target(link.target_url):
        raise Http404  # a target stored before the checks (or by hand) is never followed
    user_agent = request.headers.get("User-Agent", "")
    if request.method == "GET" and user_agent and not BOT_USER_AGENT.search(user_agent):
        referrer_host = (urlsplit(request.headers.get("Referer", "")).hostname or "")[:200]
        record_link_clicks(link, [Click(clicked_at=timezone.now(), referrer_host=referrer_host)])
    return HttpResponseRedirect(tracked_url(link))
