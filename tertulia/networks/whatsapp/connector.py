"""WhatsApp Business through the Cloud API (developers.facebook.com/docs/whatsapp/cloud-api).

The account is one business phone number: ``external_id`` is its *phone number id* (not the
number itself) and ``options["waba_id"]`` the WhatsApp Business Account that owns it. The token
is a system user's token with ``whatsapp_business_messaging`` and
``whatsapp_business_management``; it goes in the ``Authorization`` header, never in a URL.

WhatsApp is an inbox channel, not a place to publish: there are no posts, so ``publish``,
``delete`` and the metrics say so (``Unsupported``). What it does, with the calls it makes:

- Incoming messages arrive by webhook (``webhooks.py``), never by polling: ``fetch_interactions``
  returns an empty batch without any request.
- ``reply(to, text)``: ``POST /{phone-number-id}/messages`` with ``type: text`` to the customer's
  WhatsApp id (``to``). Text is at most 4,096 characters. WhatsApp has no idempotency key and no
  way to list sent messages, so ``find_published`` cannot look: an ambiguous send is reported as
  "cannot tell" (the inbox never re-sends blindly).
- ``send_template``: the same endpoint with ``type: template`` (approved templates only, their
  body parameters filled in): the only kind of message allowed outside the 24-hour
  customer-service window.
- ``mark_read(message_id)``: ``status: read`` for a customer's message (the blue ticks).
- ``fetch_templates``: ``GET /{waba-id}/message_templates``.
- ``media_info`` / ``download_media``: ``GET /{media-id}`` gives a short-lived URL on Meta's
  media host that needs the same token; the download is capped in size and the token is only
  ever sent to the API host or Meta's media hosts (``_MEDIA_HOSTS``).

Errors: Graph's envelope (``meta/graph.py`` maps 190 to ``AuthExpired``, throttling codes to
``RateLimited``...) plus WhatsApp's own codes, explained in words (``WHATSAPP_ERRORS``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx
from django.utils.translation import gettext_lazy as _

from ..base import Credentials, InteractionBatch, Limits, PostMetrics, PostPayload, Profile, PublishedRef, Visibility
from ..errors import Ambiguous, ConnectorError, Permanent, RateLimited, Retryable, Unsupported
from ..http import ApiResponse, FetchError, clean_text, error_for_status, fetch_url
from ..meta.graph import GRAPH_BASE_URL, GraphConnector, error_for_graph, graph_error

MAX_TEXT = 4096  # a text message's body
MAX_TEMPLATE_PARAM = 1024
MAX_MEDIA_BYTES = 25 * 1024 * 1024  # the proxy's cap (WhatsApp: image 5 MB, audio/video 16 MB)
MAX_TEMPLATES = 500
_WA_ID = re.compile(r"^\d{5,20}$")
_GRAPH_ID = re.compile(r"^\d{1,30}$")
_MEDIA_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_WAMID = re.compile(r"^[A-Za-z0-9_.=+/:-]{1,256}$")
# Where Meta serves WhatsApp media from; the token is sent to nothing else.
_MEDIA_HOSTS = ("lookaside.fbsbx.com", ".fbsbx.com", ".whatsapp.net", ".fbcdn.net")

MSG_NO_POSTS = _("WhatsApp is a messaging channel: there is nothing to publish there. Answer conversations in "
                 "the inbox instead.")
MSG_TOO_LONG = _("A WhatsApp message is at most %(limit)s characters; this one has %(length)s.")
MSG_EMPTY = _("Write something before sending.")
MSG_BAD_RECIPIENT = _("This conversation has no valid WhatsApp number to answer.")
MSG_WINDOW = _("WhatsApp refused the message because more than 24 hours have passed since the customer last "
               "wrote. Only an approved template can be sent now.")
MSG_UNDELIVERABLE = _("WhatsApp could not deliver the message: the number may not use WhatsApp, may have "
                      "blocked the business, or may not have accepted WhatsApp's latest terms.")
MSG_NOT_REGISTERED = _("The business phone number is not registered with the WhatsApp Cloud API. Register it "
                       "in WhatsApp Manager and reconnect.")
MSG_THROUGHPUT = _("WhatsApp says this number is sending too many messages right now. We will try again in "
                   "%(minutes)s minutes.")
MSG_PAIR_LIMIT = _("WhatsApp limits how many messages a business may send to one person in a short time. We "
                   "will try again in %(minutes)s minutes.")
MSG_SPAM_LIMIT = _("WhatsApp has limited this number because many of its messages were blocked or reported. "
                   "Check the number's quality in WhatsApp Manager.")
MSG_TEMPLATE_PARAMS = _("The template's parameters do not match what WhatsApp expects: %(reason)s")
MSG_TEMPLATE_MISSING = _("WhatsApp does not know this template in this language (it may have been deleted or "
                         "not approved yet). Sync the templates and choose again.")
MSG_TEMPLATE_PAUSED = _("WhatsApp has paused or disabled this template because of its quality. Choose another "
                        "one.")
MSG_TEMPLATE_FORMAT = _("A template parameter breaks WhatsApp's rules (no line breaks, tabs or more than four "
                        "spaces in a row).")
MSG_ACCOUNT_LOCKED = _("WhatsApp has locked or restricted this business account: %(reason)s")
MSG_PAYMENT = _("WhatsApp refused because the business account has a payment problem. Fix it in WhatsApp "
                "Manager.")
MSG_UNSUPPORTED_TYPE = _("WhatsApp does not accept this kind of message.")
MSG_WA_TRANSIENT = _("WhatsApp had a temporary problem. We will try again.")
MSG_WA_REFUSED = _("WhatsApp refused this: %(reason)s")
MSG_MEDIA_GONE = _("WhatsApp no longer has this file (media is kept for a limited time).")
MSG_MEDIA_TOO_LARGE = _("This file is too large to show here; open it on the phone.")
MSG_MEDIA_HOST = _("WhatsApp gave a download address Tertulia does not trust.")
MSG_MEDIA_FAILED = _("The file could not be downloaded from WhatsApp. Try again in a moment.")

_THROUGHPUT_CODES = frozenset({130429, 80007})
_PAIR_CODES = frozenset({131056})
_TEMPLATE_PARAM_CODES = frozenset({132000, 132012, 131008, 131009})
_TEMPLATE_MISSING_CODES = frozenset({132001})
_TEMPLATE_PAUSED_CODES = frozenset({132015, 132016})
_TRANSIENT_CODES = frozenset({131000, 131016, 133004})
_DEFAULT_WAIT = 60.0


def _fill(message, **params):
    from ..errors import fill

    return fill(message, **params)


def whatsapp_error(method: str, status: int, payload: Any, headers=None) -> ConnectorError | None:
    """Our error for a Cloud API error answer (WhatsApp's own codes first, then Graph's)."""
    error = graph_error(payload)
    if error is None:
        return None
    code = GraphConnector._as_int(error.get("code"))
    data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    reason = clean_text(str(data.get("details") or error.get("error_user_msg") or error.get("message") or code), 300)
    detail = f"code={code} {clean_text(str(error.get('message') or ''), 300)} {reason} " \
             f"fbtrace_id={clean_text(str(error.get('fbtrace_id') or ''), 60)}"
    if code == 131047:
        return Permanent(MSG_WINDOW, detail=detail, status=status)
    if code == 131026:
        return Permanent(MSG_UNDELIVERABLE, detail=detail, status=status)
    if code == 133010:
        return Permanent(MSG_NOT_REGISTERED, detail=detail, status=status)
    if code in _THROUGHPUT_CODES or code in _PAIR_CODES:
        wait = 300.0 if code in _PAIR_CODES else _DEFAULT_WAIT
        message = MSG_PAIR_LIMIT if code in _PAIR_CODES else MSG_THROUGHPUT
        return RateLimited(_fill(message, minutes=max(1, int(round(wait / 60)))), retry_after=wait,
                           detail=detail, status=status)
    if code == 131048:
        return Permanent(MSG_SPAM_LIMIT, detail=detail, status=status)
    if code in _TEMPLATE_PARAM_CODES:
        return Permanent(_fill(MSG_TEMPLATE_PARAMS, reason=reason), detail=detail, status=status)
    if code in _TEMPLATE_MISSING_CODES:
        return Permanent(MSG_TEMPLATE_MISSING, detail=detail, status=status)
    if code in _TEMPLATE_PAUSED_CODES:
        return Permanent(MSG_TEMPLATE_PAUSED, detail=detail, status=status)
    if code == 132018:
        return Permanent(MSG_TEMPLATE_FORMAT, detail=detail, status=status)
    if code in (131031, 368):
        return Permanent(_fill(MSG_ACCOUNT_LOCKED, reason=reason), detail=detail, status=status)
    if code == 131042:
        return Permanent(MSG_PAYMENT, detail=detail, status=status)
    if code == 131051:
        return Permanent(MSG_UNSUPPORTED_TYPE, detail=detail, status=status)
    if code in _TRANSIENT_CODES:
        if method.upper() == "POST":
            # "Something went wrong" after a send: it may have gone out.
            return Ambiguous(MSG_WA_TRANSIENT, detail=detail, status=status)
        return Retryable(MSG_WA_TRANSIENT, detail=detail, status=status)
    return error_for_graph(method, status, payload, headers)


def window_error(err: ConnectorError) -> bool:
    return isinstance(err, Permanent) and "code=131047" in (err.detail or "")


class WhatsAppConnector(GraphConnector):
    network: ClassVar[str] = "whatsapp"
    default_base_url: ClassVar[str] = GRAPH_BASE_URL
    thread_ids_widen: ClassVar[bool] = True

    def __init__(self, *, waba_id: str = "", **kwargs):
        super().__init__(**kwargs)
        self.waba_id = waba_id

    @classmethod
    def for_account(cls, account, **kwargs):
        kwargs.setdefault("waba_id", str((account.options or {}).get("waba_id") or ""))
        return super().for_account(account, **kwargs)

    @property
    def phone_number_id(self) -> str:
        if not _GRAPH_ID.match(self.account_id or ""):
            raise Permanent(MSG_NOT_REGISTERED, detail=f"bad phone number id {self.account_id!r}")
        return self.account_id

    # -- calls -------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kw) -> ApiResponse:
        response = self.http.request(method, self._path(path), accept=(400, 401, 403, 404, 429, 500, 503), **kw)
        if response.status >= 400 or graph_error(response.data):
            error = (whatsapp_error(method, response.status, response.data, response.headers)
                     or error_for_status(method, response.status, response.headers, response.data, response.text))
            if error is not None:
                raise error
        return response

    def _send(self, body: dict[str, Any]) -> PublishedRef:
        data = self._call("POST", f"{self.phone_number_id}/messages", json_body=body).data
        messages = data.get("messages") if isinstance(data, dict) else None
        first = messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], dict) else {}
        message_id = str(first.get("id") or "")
        if not _WAMID.match(message_id):
            # Sent (2xx) but we cannot read its id: it may well have gone out.
            raise Ambiguous(MSG_WA_TRANSIENT, detail=f"no message id in {clean_text(str(data), 200)}")
        return PublishedRef(external_id=message_id)

    @staticmethod
    def _recipient(to: str) -> str:
        to = (to or "").lstrip("+")
        if not _WA_ID.match(to):
            raise Permanent(MSG_BAD_RECIPIENT, detail=f"bad recipient {clean_text(to, 40)!r}")
        return to

    def reply(self, to_external_id: str, text: str, *, marker: str = "") -> PublishedRef:
        """A free-form text to the customer ``to_external_id`` (their WhatsApp id)."""
        text = (text or "").strip()
        if not text:
            raise Permanent(MSG_EMPTY)
        if len(text) > MAX_TEXT:
            raise Permanent(_fill(MSG_TOO_LONG, limit=MAX_TEXT, length=len(text)))
        return self._send({"messaging_product": "whatsapp", "recipient_type": "individual",
                           "to": self._recipient(to_external_id), "type": "text",
                           "text": {"preview_url": False, "body": text}})

    def send_template(self, to: str, name: str, language: str, params: Sequence[str] = (),
                      names: Sequence[str] = ()) -> PublishedRef:
        """An approved template with its body parameters (positional, or named when ``names``
        gives each parameter's name)."""
        components = []
        if params:
            parameters = []
            for index, value in enumerate(params):
                item = {"type": "text", "text": str(value)}
                if names:
                    item["parameter_name"] = names[index]
                parameters.append(item)
            components.append({"type": "body", "parameters": parameters})
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if components:
            template["components"] = components
        return self._send({"messaging_product": "whatsapp", "recipient_type": "individual",
                           "to": self._recipient(to), "type": "template", "template": template})

    def mark_read(self, message_id: str) -> bool:
        if not _WAMID.match(message_id or ""):
            raise Permanent(MSG_WA_REFUSED, detail="bad message id")
        data = self._call("POST", f"{self.phone_number_id}/messages",
                          json_body={"messaging_product": "whatsapp", "status": "read", "message_id": message_id}).data
        return isinstance(data, dict) and data.get("success") is True

    def fetch_templates(self) -> list[dict[str, Any]]:
        """Every message template of the business account (at most ``MAX_TEMPLATES``)."""
        if not _GRAPH_ID.match(self.waba_id or ""):
            raise Permanent(_fill(MSG_WA_REFUSED, reason="WhatsApp Business Account id"),
                            detail=f"bad waba id {self.waba_id!r}")
        out = []
        for item in self._pages(f"{self.waba_id}/message_templates",
                                params={"fields": "id,name,language,status,category,components,parameter_format",
                                        "limit": 100}, max_pages=MAX_TEMPLATES // 100):
            out.append(item)
        return out

    def business_numbers(self) -> list[dict[str, Any]]:
        """The phone numbers of the business account (to check the number belongs to it)."""
        if not _GRAPH_ID.match(self.waba_id or ""):
            raise Permanent(_fill(MSG_WA_REFUSED, reason="WhatsApp Business Account id"), detail="bad waba id")
        return list(self._pages(f"{self.waba_id}/phone_numbers",
                                params={"fields": "id,display_phone_number,verified_name"}, max_pages=3))

    def subscribe_app(self) -> bool:
        """Subscribe our Meta app to the business account's webhooks (messages, statuses)."""
        data = self._call("POST", f"{self.waba_id}/subscribed_apps").data
        return isinstance(data, dict) and data.get("success") is True

    def media_info(self, media_id: str) -> dict[str, Any]:
        if not _MEDIA_ID.match(media_id or ""):
            raise Permanent(MSG_MEDIA_GONE, detail="bad media id")
        return self._get(media_id, phone_number_id=self.phone_number_id)

    def download_media(self, media_id: str, *, max_bytes: int = MAX_MEDIA_BYTES) -> tuple[bytes, str]:
        """The file's bytes and the MIME type WhatsApp declares for it, at most ``max_bytes``."""
        info = self.media_info(media_id)
        size = self._as_int(info.get("file_size"))
        if size is not None and size > max_bytes:
            raise Permanent(MSG_MEDIA_TOO_LARGE, detail=f"{size} bytes")
        url = str(info.get("url") or "")
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise Permanent(MSG_MEDIA_HOST, detail="unparseable media url") from None
        base = httpx.URL(self.base_url)
        same = (parsed.scheme, parsed.host, parsed.port) == (base.scheme, base.host, base.port)
        meta = parsed.scheme == "https" and any(parsed.host == h or (h.startswith(".") and parsed.host.endswith(h))
                                                for h in _MEDIA_HOSTS)
        if not (same or meta):
            raise Permanent(MSG_MEDIA_HOST, detail=f"media host {clean_text(parsed.host, 100)!r}")
        try:
            fetched = fetch_url(url, config=self.http.config,
                                headers={"Authorization": f"Bearer {self.credentials.access_token}"},
                                max_bytes=max_bytes, max_redirects=0, total_timeout=30.0)
        except FetchError as exc:
            if exc.reason == "too_large":
                raise Permanent(MSG_MEDIA_TOO_LARGE, detail=exc.detail) from exc
            if exc.status in (401, 403):
                from ..meta.graph import MSG_TOKEN
                from ..errors import AuthExpired

                raise AuthExpired(MSG_TOKEN, detail=str(exc), status=exc.status) from exc
            if exc.status == 404:
                raise Permanent(MSG_MEDIA_GONE, detail=str(exc), status=404) from exc
            raise Retryable(MSG_MEDIA_FAILED, detail=str(exc), status=exc.status) from exc
        return fetched.body, clean_text(str(info.get("mime_type") or ""), 100)

    # -- the connector interface -------------------------------------------------------------

    def fetch_profile(self) -> Profile:
        data = self._get(self.phone_number_id,
                         fields="id,display_phone_number,verified_name,quality_rating,code_verification_status")
        number = clean_text(str(data.get("display_phone_number") or ""), 40)
        if str(data.get("id") or "") != self.phone_number_id or not number:
            raise Permanent(MSG_NOT_REGISTERED, detail="phone number not readable with this token")
        return Profile(external_id=self.phone_number_id, handle=number,
                       display_name=clean_text(str(data.get("verified_name") or ""), 200),
                       fields={"quality_rating": clean_text(str(data.get("quality_rating") or ""), 20)})

    def fetch_interactions(self, since: datetime | None = None, *, cursor: str = "",
                           thread_ids: Sequence[str] = ()) -> InteractionBatch:
        return InteractionBatch(items=[], cursor=cursor)  # webhooks only: nothing to poll

    def publish(self, payload: PostPayload) -> PublishedRef:
        raise Unsupported(MSG_NO_POSTS)

    def delete(self, external_id: str) -> bool:
        raise Unsupported(MSG_NO_POSTS)

    def find_published(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        # The Cloud API cannot list sent messages: we cannot look, so we never claim either way.
        raise Unsupported(_("WhatsApp does not let us check whether a message went out."))

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        return {}

    def limits(self) -> Limits:
        return Limits(max_characters=MAX_TEXT, counting="characters", max_media=0,
                      visibilities=frozenset({Visibility.DIRECT}), threads=False)


def connector_for_token(base_url: str, token: str, *, phone_number_id: str, waba_id: str,
                        http_config=None) -> WhatsAppConnector:
    return WhatsAppConnector(base_url=base_url, credentials=Credentials(access_token=token),
                             account_id=phone_number_id, waba_id=waba_id, http_config=http_config,
                             account_key=f"whatsapp-connect:{phone_number_id}")
