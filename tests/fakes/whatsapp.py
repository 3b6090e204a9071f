"""A loopback fake of the WhatsApp Cloud API (Graph ``/v26.0/...``): real HTTP on 127.0.0.1, in a
thread, with state, plus the webhook *sender* (signed notifications for our endpoint).

No recorded Cloud API traffic exists in ``../shared/corpora``; the shapes follow the documentation
(developers.facebook.com/docs/whatsapp/cloud-api): errors are Graph's envelope
``{"error": {"message", "type", "code", "error_data": {"messaging_product", "details"},
"fbtrace_id"}}`` with HTTP 400 (401 for a bad token).

What it does like the real API:

- ``GET /{phone-number-id}`` (display number, verified name, quality), ``GET /{waba-id}/phone_numbers``,
  ``POST /{waba-id}/subscribed_apps``, ``GET /{waba-id}/message_templates`` (paged with
  ``paging.cursors.after`` / ``paging.next``);
- ``POST /{phone-number-id}/messages``: ``type: text`` (body at most 4,096 characters, else 100;
  refused with **131047** when the customer's last message is more than 24 hours old or they never
  wrote), ``type: template`` (the template must exist in that language and be APPROVED, else
  132001; the number of body parameters must match, else 132000), and ``status: read``;
  a number in ``undeliverable`` is accepted and then fails (a ``failed`` status with 131026,
  as WhatsApp does it);
- ``GET /{media-id}`` gives a short-lived URL on this server; downloading it needs the token.

The webhook sender builds ``whatsapp_business_account`` notifications (``message_body``,
``status_body``), signs them with the app secret (``sign``) and can POST them (``deliver``).

Faults (``inject(endpoint, Fault…)`` with endpoint ``messages``, ``phone``, ``phone_numbers``,
``templates``, ``subscribe``, ``media``, ``download`` or ``"*"``): latency, 429, Graph error codes
(``Fault.graph(code)``: 130429 throughput, 80007, 131000, 190 expired token…), 5xx, a hang or a
dropped connection *after* the message was accepted, and malformed JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from . import server

VERSION = "v26.0"
PHONE_ID = "106540352242922"
WABA_ID = "102290129340398"
DISPLAY_NUMBER = "+34 910 00 00 00"
APP_SECRET = "fake-whatsapp-app-secret"
WINDOW = 24 * 3600
MAX_TEXT = 4096


class Fault(server.Fault):
    @classmethod
    def graph(cls, code: int, message: str = "error", *, status: int = 400, after: bool = False,
              details: str = "") -> Fault:
        body = {"error": {"message": message, "type": "OAuthException", "code": code,
                          "error_data": {"messaging_product": "whatsapp", "details": details or message},
                          "fbtrace_id": "AbCdEf123"}}
        return cls("status", status=status, body=json.dumps(body), after=after)

    @classmethod
    def server_error(cls, status: int = 500, *, after: bool = False) -> Fault:
        return cls("status", status=status, after=after, body="<html><body>Server error</body></html>")

    @classmethod
    def malformed(cls, body: str = '{"messaging_product":"whatsapp","messages":[{"id":', *,
                  after: bool = True, status: int = 200) -> Fault:
        return cls("malformed", body=body, after=after, status=status)

    @classmethod
    def expired_token(cls) -> Fault:
        return cls.graph(190, "Error validating access token: Session has expired", status=401)


class ApiError(Exception):
    def __init__(self, code: int, message: str, status: int = 400, details: str = ""):
        super().__init__(message)
        self.code, self.message, self.status, self.details = code, message, status, details

    def payload(self) -> dict:
        return {"error": {"message": self.message, "type": "OAuthException", "code": self.code,
                          "error_data": {"messaging_product": "whatsapp", "details": self.details or self.message},
                          "fbtrace_id": "AbCdEf" + secrets.token_hex(4)}}


@dataclass
class Request:
    method: str
    endpoint: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.time)
    status: int | None = None


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FakeWhatsApp(server.LoopbackServer):
    thread_name = "fake-whatsapp"

    def __init__(self, *, seed: int = 0):
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.latency = 0.0
        self._rules: list[server.FaultRule] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[Request] = []
        self.token = "EAAG" + secrets.token_urlsafe(40)
        self.revoked: set[str] = set()
        self.phone = {"id": PHONE_ID, "display_phone_number": DISPLAY_NUMBER, "verified_name": "Café Tertulia",
                      "quality_rating": "GREEN", "code_verification_status": "VERIFIED"}
        self.waba_id = WABA_ID
        self.subscribed = False
        self.templates: list[dict[str, Any]] = []
        self.media: dict[str, tuple[bytes, str]] = {}
        self.sent: list[dict[str, Any]] = []  # every message accepted, with its wamid
        self.read_marks: list[str] = []
        self.last_inbound: dict[str, float] = {}  # customer wa_id -> unix time of their last message
        self.undeliverable: set[str] = set()
        self._seq = 0

    def _seed_accounts(self) -> None:
        self.add_template("pedido_listo", "es", "Hola {{1}}, tu pedido {{2}} está listo para recoger.",
                          category="UTILITY")
        self.add_template("seguimiento", "es", "Hola, ¿pudimos resolver tu consulta? Responde a este mensaje.",
                          category="MARKETING")
        self.add_template("promo_imagen", "es", "Mira nuestra oferta", header={"type": "HEADER", "format": "IMAGE"})
        self.add_template("pendiente", "es", "Texto {{1}}", status="PENDING")

    # -- helpers for tests ---------------------------------------------------------------------

    def inject(self, endpoint: str, fault: Fault, *, times: int | None = 1, probability: float = 1.0) -> None:
        self._add_rule("*", (lambda name: True) if endpoint == "*" else (lambda name: name == endpoint),
                       fault, times, probability)

    def requests_to(self, endpoint: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def expire_token(self) -> None:
        with self.lock:
            self.revoked.add(self.token)

    def add_template(self, name: str, language: str, body: str, *, status: str = "APPROVED",
                     category: str = "UTILITY", header: dict | None = None) -> dict:
        with self.lock:
            components = ([header] if header else []) + [{"type": "BODY", "text": body}]
            item = {"id": str(900000 + len(self.templates)), "name": name, "language": language, "status": status,
                    "category": category, "components": components, "parameter_format": "POSITIONAL"}
            self.templates.append(item)
            return item

    def add_media(self, content: bytes, mime: str) -> str:
        with self.lock:
            media_id = str(1000000000 + len(self.media))
            self.media[media_id] = (content, mime)
            return media_id

    def _wamid(self) -> str:
        self._seq += 1
        return "wamid.HBgLMzQ2MDAwMDAwMDAVAgASGBQz" + f"{self._seq:08d}" + secrets.token_hex(4).upper()

    # -- the webhook sender ----------------------------------------------------------------------

    def message_body(self, wa_id: str, message: dict[str, Any], *, name: str = "Cliente",
                     phone_id: str = PHONE_ID, waba_id: str = WABA_ID, at: float | None = None) -> bytes:
        """A ``messages`` notification with one customer message (``message`` holds ``type`` and
        its object, e.g. ``{"type": "text", "text": {"body": "hola"}}``). Updates the window."""
        at = time.time() if at is None else at
        with self.lock:
            self.last_inbound[wa_id] = max(self.last_inbound.get(wa_id, 0), at)
            wamid = message.get("id") or self._wamid()
        value = {"messaging_product": "whatsapp",
                 "metadata": {"display_phone_number": DISPLAY_NUMBER.replace(" ", "").lstrip("+"),
                              "phone_number_id": phone_id},
                 "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                 "messages": [{"from": wa_id, "id": wamid, "timestamp": str(int(at)), **message}]}
        return self._envelope(waba_id, value)

    def status_body(self, wamid: str, status: str, *, recipient: str = "", errors: list | None = None,
                    phone_id: str = PHONE_ID, waba_id: str = WABA_ID, at: float | None = None) -> bytes:
        item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(int(at or time.time())),
                                "recipient_id": recipient}
        if errors:
            item["errors"] = errors
        value = {"messaging_product": "whatsapp",
                 "metadata": {"display_phone_number": "34910000000", "phone_number_id": phone_id},
                 "statuses": [item]}
        return self._envelope(waba_id, value)

    @staticmethod
    def _envelope(waba_id: str, value: dict) -> bytes:
        return json.dumps({"object": "whatsapp_business_account",
                           "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}]}).encode()

    @staticmethod
    def sign(body: bytes, secret: str = APP_SECRET) -> str:
        return sign(body, secret)

    def deliver(self, url: str, body: bytes, *, secret: str = APP_SECRET, timeout: float = 5.0) -> int:
        """POST a signed notification to our webhook, as Meta does. Returns the HTTP status."""
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    # -- the API ------------------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Any:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token != self.token or token in self.revoked:
            raise ApiError(190, "Error validating access token: Session has expired", status=401)
        handler = getattr(self, "api_" + request.endpoint, None)
        if handler is None:
            raise ApiError(100, "Unsupported request - method type: " + request.method.lower())
        with self.lock:
            return handler(request)

    def api_phone(self, request: Request) -> dict:
        return dict(self.phone)

    def api_phone_numbers(self, request: Request) -> dict:
        return {"data": [{"id": self.phone["id"], "display_phone_number": self.phone["display_phone_number"],
                          "verified_name": self.phone["verified_name"]}]}

    def api_subscribe(self, request: Request) -> dict:
        self.subscribed = True
        return {"success": True}

    def api_templates(self, request: Request) -> dict:
        limit = int(request.params.get("limit") or 25)
        start = int(request.params.get("after") or 0)
        page = self.templates[start:start + limit]
        out: dict[str, Any] = {"data": page, "paging": {"cursors": {"before": str(start), "after": str(start + limit)}}}
        if start + limit < len(self.templates):
            out["paging"]["next"] = (f"{self.base_url}/{VERSION}/{self.waba_id}/message_templates"
                                     f"?limit={limit}&after={start + limit}")
        return out

    def api_media(self, request: Request) -> dict:
        media_id = request.path.rsplit("/", 1)[-1]
        if media_id not in self.media:
            raise ApiError(100, "Unsupported get request. Object does not exist", details="media not found")
        content, mime = self.media[media_id]
        return {"messaging_product": "whatsapp", "url": f"{self.base_url}/download/{media_id}?ext=1",
                "mime_type": mime, "sha256": hashlib.sha256(content).hexdigest(), "file_size": len(content),
                "id": media_id}

    def api_messages(self, request: Request) -> dict:
        p = request.params
        if p.get("messaging_product") != "whatsapp":
            raise ApiError(100, "The parameter messaging_product is required.")
        if p.get("status") == "read":
            if not isinstance(p.get("message_id"), str):
                raise ApiError(100, "Invalid parameter")
            self.read_marks.append(p["message_id"])
            return {"success": True}
        to = p.get("to")
        if not isinstance(to, str) or not re.fullmatch(r"\d{5,20}", to):
            raise ApiError(100, "Invalid parameter", details="to")
        kind = p.get("type")
        if kind == "text":
            body = (p.get("text") or {}).get("body") if isinstance(p.get("text"), dict) else None
            if not isinstance(body, str) or not body:
                raise ApiError(100, "Invalid parameter", details="text.body is required")
            if len(body) > MAX_TEXT:
                raise ApiError(100, "Invalid parameter", details="Param text['body'] must be at most 4096 characters")
            if time.time() - self.last_inbound.get(to, 0) > WINDOW:
                raise ApiError(131047, "Re-engagement message",
                               details="Message failed to send because more than 24 hours have passed since "
                                       "the customer last replied to this number.")
        elif kind == "template":
            tpl = p.get("template") if isinstance(p.get("template"), dict) else {}
            language = (tpl.get("language") or {}).get("code") if isinstance(tpl.get("language"), dict) else None
            found = next((t for t in self.templates if t["name"] == tpl.get("name") and t["language"] == language
                          and t["status"] == "APPROVED"), None)
            if found is None:
                raise ApiError(132001, "Template name does not exist in the translation",
                               details=f"template name ({tpl.get('name')}) does not exist in {language}")
            body_text = next(c["text"] for c in found["components"] if c["type"] == "BODY")
            expected = len(set(re.findall(r"\{\{\s*(\w+)\s*\}\}", body_text)))
            given = sum(len(c.get("parameters") or []) for c in tpl.get("components") or []
                        if isinstance(c, dict) and c.get("type") == "body")
            if expected != given:
                raise ApiError(132000, "Number of parameters does not match the expected number of params",
                               details=f"body: number of localizable_params ({given}) does not match the "
                                       f"expected number of params ({expected})")
        else:
            raise ApiError(131051, "Unsupported message type")
        wamid = self._wamid()
        self.sent.append({"id": wamid, "to": to, **p})
        return {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid}]}


# -- HTTP ---------------------------------------------------------------------------------------------

_PATH = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<rest>[^?]+?)/?$")


def _endpoint(method: str, path: str, fake: FakeWhatsApp) -> str:
    if path.startswith("/download/"):
        return "download"
    match = _PATH.match(path)
    if match is None:
        return ""
    parts = match.group("rest").split("/")
    if len(parts) == 1:
        return "phone" if parts[0] == fake.phone["id"] else "media"
    if len(parts) == 2 and parts[1] == "messages" and parts[0] == fake.phone["id"] and method == "POST":
        return "messages"
    if len(parts) == 2 and parts[0] == fake.waba_id:
        return {"phone_numbers": "phone_numbers", "message_templates": "templates",
                "subscribed_apps": "subscribe"}.get(parts[1], "")
    return ""


class _Handler(server.FakeHandler):
    server_version = ""
    content_type = "application/json; charset=UTF-8"

    def _handle(self, method: str) -> None:
        fake: FakeWhatsApp = self.server.fake  # type: ignore[attr-defined]
        parts, headers, body = self.read_request()
        endpoint = _endpoint(method, parts.path, fake)
        try:
            params, _files = server.request_params(parts.query, headers, body)
        except ValueError:
            return self._send(None, 400, ApiError(100, "Invalid JSON").payload())
        request = Request(method, endpoint, parts.path, params, headers)
        with fake.lock:
            fake.requests.append(request)
        fault = fake._take_fault(method, endpoint)
        delay = fake.latency + (fault.seconds if fault and fault.kind == "latency" else 0.0)
        if delay:
            fake._stopping.wait(delay)
        if fault and not fault.after:
            if fault.kind == "rate_limit":
                return self._send(request, 429, ApiError(130429, "Rate limit hit").payload())
            if fault.kind in ("status", "malformed"):
                return self._send(request, fault.status, None, raw=(fault.body or "").encode())
            if fault.kind == "lost":
                fake._stopping.wait(fault.seconds)
                self.close_connection = True
                request.status = -1
                return None
        if endpoint == "download":
            return self._download(fake, request, parts.path)
        if not endpoint:
            status, payload = 400, ApiError(100, "Unknown path components").payload()
        else:
            try:
                status, payload = 200, fake.dispatch(request)
            except ApiError as error:
                status, payload = error.status, error.payload()
        if fault and fault.after:
            if fault.kind == "hang":
                fake._stopping.wait(fault.seconds)
                return self._send(request, status, payload)
            if fault.kind == "drop":
                self.close_connection = True
                request.status = -1
                return None
            if fault.kind in ("status", "malformed"):
                return self._send(request, fault.status, None, raw=(fault.body or "").encode())
        return self._send(request, status, payload)

    def _download(self, fake: FakeWhatsApp, request: Request, path: str) -> None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token != fake.token or token in fake.revoked:
            return self._send(request, 401, None, raw=b"Unauthorized", content_type="text/plain")
        media_id = path.rsplit("/", 1)[-1]
        with fake.lock:
            item = fake.media.get(media_id)
        if item is None:
            return self._send(request, 404, None, raw=b"Not found", content_type="text/plain")
        return self._send(request, 200, None, raw=item[0], content_type=item[1])


FakeWhatsApp.handler_class = _Handler
