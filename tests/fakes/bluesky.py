"""A loopback fake Bluesky PDS (with its AppView reads): real HTTP on 127.0.0.1, in a thread,
with state.

It follows the XRPC lexicons for the endpoints Tertulia uses (``/xrpc/<nsid>``, errors as
``{"error": "Name", "message": "..."}``), and its payloads are shaped from the recorded real
ones in ``../shared/corpora/marshalx-atproto-fixtures`` (read at run time, never copied): the
postView of ``thread_view_post_with_embed_media.json``, the profiles of ``get_follows.json``, the
DID and handle of ``did_doc.json`` and ``resolve_handle.json``, and the limits of the lexicons
(``app.bsky.feed.post`` 300 graphemes / 3000 bytes, 3 langs, ``app.bsky.embed.images`` 4 images).
The syntax rules are checked against ``atproto-interop-tests/syntax`` by the tests.

What it does like the real server:

- sessions: ``createSession`` (identifier = handle, DID or e-mail, and an app password) gives an
  access JWT and a refresh JWT (JWT-shaped, with ``exp``); an expired access JWT answers
  ``400 ExpiredToken``, an unknown one ``400 InvalidToken``, none ``401 AuthMissing``;
  ``refreshSession`` rotates the refresh JWT (the old one stops working);
- ``resolveHandle``, ``uploadBlob`` (raw body, ``blob`` ref with a CID), ``createRecord`` with
  lexicon validation of ``app.bsky.feed.post`` (text length in graphemes and bytes, createdAt,
  langs, facets whose byte ranges lie inside the UTF-8 text and on character boundaries, image
  and external embeds referencing uploaded blobs, reply strong refs that must match), an
  ``rkey`` that must be a TID and must be new (a duplicate answers what the PDS answers today:
  ``500 InternalServerError``, configurable), ``getRecord``, ``listRecords``, ``deleteRecord``;
- ``getProfile``, ``getPosts`` (counters), ``listNotifications`` (reply, mention, quote),
  ``searchPosts``;
- rate limits per account with ``ratelimit-limit/remaining/reset/policy`` headers and
  ``429 RateLimitExceeded``.

Faults are injected per endpoint (``inject("POST com.atproto.repo.createRecord",
Fault.timeout_after())``): latency, 5xx, 429 with reset headers, a hang *after* the request was
processed (the record exists but the client times out), a dropped connection after processing,
an expired or invalid token, and malformed JSON.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import re
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from . import server
from .corpora import CorpusMissing, corpora_dir
from .mastodon import HttpError, Request

try:
    import regex as _regex
except ImportError:  # pragma: no cover - regex is a dependency of the project
    _regex = None

TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
RKEY = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._:~-]{1,512}$")
DID = re.compile(r"^(?=.{1,2048}$)did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$")
HANDLE = re.compile(r"^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
DATETIME = re.compile(r"^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\.[0-9]{1,20})?"
                      r"(Z|([+-][0-2][0-9]:[0-5][0-9]))$")
LANGUAGE = re.compile(r"^([iIxX]|[a-zA-Z]{2,3})(-[a-zA-Z0-9]+)*$")
AT_URI = re.compile(r"^at://(?P<repo>[^/]+)/(?P<collection>[^/]+)/(?P<rkey>[^/]+)$")
POST = "app.bsky.feed.post"


def fixtures_dir() -> Path:
    path = corpora_dir() / "marshalx-atproto-fixtures"
    if not path.is_dir():
        raise CorpusMissing(f"no AT Protocol fixtures at {path} (set TERTULIA_CORPORA)")
    return path


def interop_dir() -> Path:
    path = corpora_dir() / "atproto-interop-tests"
    if not path.is_dir():
        raise CorpusMissing(f"no atproto-interop-tests at {path} (set TERTULIA_CORPORA)")
    return path


def _load(name: str) -> Any:
    path = fixtures_dir() / name
    if not path.exists():
        raise CorpusMissing(f"fixture {path} is missing")
    return json.loads(path.read_text(encoding="utf-8"))


def _iso(dt: datetime) -> str:
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _cid(data: bytes, prefix: str = "bafyrei") -> str:
    """CID-shaped (base32, lower case): enough for refs to be compared, not a real multihash."""
    return prefix + base64.b32encode(hashlib.sha256(data).digest()).decode().lower().rstrip("=")[:52]


def graphemes(text: str) -> int:
    return len(_regex.findall(r"\X", text)) if _regex is not None else len(text)


# -- faults ------------------------------------------------------------------------------------


class Fault(server.Fault):
    """XRPC error bodies on top of the shared fault vocabulary."""

    @classmethod
    def server_error(cls, status: int = 503, *, after: bool = False, retry_after: float | None = None) -> Fault:
        names = {500: "InternalServerError", 502: "UpstreamFailure", 503: "NotEnoughResources",
                 504: "UpstreamTimeout"}
        body = json.dumps({"error": names.get(status, "InternalServerError"), "message": "Internal Server Error"})
        return cls("status", status=status, after=after, retry_after=retry_after, body=body)

    @classmethod
    def respond(cls, status: int, error: str, message: str = "", *, after: bool = False) -> Fault:
        return cls("status", status=status, body=json.dumps({"error": error, "message": message}), after=after)

    @classmethod
    def malformed(cls, body: str = '{"uri": "at://did:plc:x/app.bsky.feed.po', *, after: bool = True,
                  status: int = 200) -> Fault:
        return cls("malformed", body=body, after=after, status=status)

    @classmethod
    def expired_token(cls) -> Fault:
        return cls("xrpc", status=400, body=json.dumps({"error": "ExpiredToken", "message": "Token has expired"}))

    @classmethod
    def invalid_token(cls) -> Fault:
        return cls("xrpc", status=400, body=json.dumps({"error": "InvalidToken",
                                                        "message": "Token could not be verified"}))


def _xrpc(status: int, error: str, message: str) -> HttpError:
    return HttpError(status, {"error": error, "message": message})


def invalid(message: str) -> HttpError:
    return _xrpc(400, "InvalidRequest", message)


# -- the server --------------------------------------------------------------------------------


class FakeBluesky(server.LoopbackServer):
    """Start with ``with FakeBluesky() as fake:`` or ``start()``/``stop()``."""

    thread_name = "fake-bluesky"

    def __init__(self, *, access_ttl: float = 7200.0, refresh_ttl: float = 60 * 24 * 3600.0,
                 image_max_size: int = 1_000_000, duplicate_rkey: tuple[int, str, str] | None = None,
                 rate_limits: dict[str, tuple[int, float]] | None = None, seed: int = 0):
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        # What a create with an existing rkey answers: today's PDS fails with a 500
        # (bluesky-social/atproto#3718); #4728 specifies an explicit 4xx error instead.
        self.duplicate_rkey = duplicate_rkey or (500, "InternalServerError", "Internal Server Error")
        self.rate_limits = rate_limits or {"global": (3000, 300.0), "com.atproto.server.createSession": (30, 300.0)}
        self.latency = 0.0
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self._rules: list[server.FaultRule] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._windows: dict[tuple[str, str], list[float]] = {}
        self._tid_clock = 0
        self.accounts: dict[str, dict[str, Any]] = {}  # did -> profile + private fields
        self.passwords: dict[str, str] = {}  # did -> app password
        self.access: dict[str, tuple[str, float]] = {}  # access JWT -> (did, exp)
        self.refresh: dict[str, tuple[str, float]] = {}  # live refresh JWTs -> (did, exp)
        self.records: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.blobs: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self._load_templates(image_max_size)

    # -- lifecycle ---------------------------------------------------------------------------

    # -- recorded payloads -------------------------------------------------------------------

    def _load_templates(self, image_max_size: int) -> None:
        post_lexicon = _load("lexicons/app.bsky.feed.post.json")["defs"]["main"]["record"]["properties"]
        self.max_graphemes = post_lexicon["text"]["maxGraphemes"]
        self.max_bytes = post_lexicon["text"]["maxLength"]
        self.max_langs = post_lexicon["langs"]["maxLength"]
        images = _load("lexicons/app.bsky.embed.images.json")["defs"]
        self.max_images = images["main"]["properties"]["images"]["maxLength"]
        self.image_max_size = min(image_max_size, images["image"]["properties"]["image"]["maxSize"])
        tag = _load("lexicons/app.bsky.richtext.facet.json")["defs"]["tag"]["properties"]["tag"]
        self.max_tag_graphemes, self.max_tag_bytes = tag["maxGraphemes"], tag["maxLength"]
        thread = _load("test_data/thread_view_post_with_embed_media.json")["thread"]
        self.tpl_post_view = thread["post"]
        follows = _load("test_data/get_follows.json")
        self.tpl_own = follows["subject"]  # test.marshal.dev, "Python SDK"
        self.tpl_others = follows["follows"]  # why.bsky.team, divy.zone, ...
        did_doc = _load("test_data/did_doc.json")
        self.own_did, self.own_handle = did_doc["did"], did_doc["handle"]
        self.resolved_did = _load("test_data/resolve_handle.json")["did"]  # bsky.app's DID
        self.tpl_record = _load("test_data/post_record.json")

    def _seed_accounts(self) -> None:
        self.own = self.add_account(self.own_handle, did=self.own_did, template=self.tpl_own,
                                    password="abcd-efgh-ijkl-mnop", followers=1234, follows=56)
        self.password = self.passwords[self.own_did]
        for template in self.tpl_others[:3]:
            self.add_account(template["handle"], did=template["did"], template=template)
        self.add_account("bsky.app", did=self.resolved_did, display_name="Bluesky")
        session = self.issue_session(self.own_did)
        self.access_jwt, self.refresh_jwt = session["accessJwt"], session["refreshJwt"]

    # -- helpers for tests --------------------------------------------------------------------

    def add_account(self, handle: str, *, did: str = "", display_name: str = "", template: dict | None = None,
                    password: str = "", followers: int = 0, follows: int = 0) -> dict[str, Any]:
        with self.lock:
            profile = copy.deepcopy(template or self.tpl_others[0])
            did = did or "did:plc:" + base64.b32encode(hashlib.sha256(handle.encode()).digest()).decode().lower()[:24]
            profile.update(did=did, handle=handle, followersCount=followers, followsCount=follows)
            profile.pop("viewer", None)
            if display_name:
                profile["displayName"] = display_name
            if template is None:
                profile["avatar"] = f"https://cdn.bsky.app/img/avatar/plain/{did}/{_cid(did.encode(), 'bafkrei')}@jpeg"
                profile["description"] = ""
            self.accounts[did] = profile
            self.passwords[did] = password or secrets.token_hex(8)
            return profile

    def did_for(self, handle: str) -> str:
        with self.lock:
            for did, account in self.accounts.items():
                if account["handle"].lower() == handle.lower():
                    return did
        raise KeyError(handle)

    def _jwt(self, did: str, scope: str, ttl: float) -> tuple[str, float]:
        exp = time.time() + ttl
        header = _b64(json.dumps({"typ": "at+jwt" if scope != "refresh" else "refresh+jwt", "alg": "ES256K"}).encode())
        claims = {"scope": "com.atproto.appPass" if scope == "access" else "com.atproto.refresh", "sub": did,
                  "iat": int(time.time()), "exp": int(exp), "jti": secrets.token_hex(8)}
        return f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(secrets.token_bytes(32))}", exp

    def issue_session(self, did: str) -> dict[str, Any]:
        with self.lock:
            access, access_exp = self._jwt(did, "access", self.access_ttl)
            refresh, refresh_exp = self._jwt(did, "refresh", self.refresh_ttl)
            self.access[access] = (did, access_exp)
            self.refresh[refresh] = (did, refresh_exp)
            account = self.accounts[did]
            return {"accessJwt": access, "refreshJwt": refresh, "handle": account["handle"], "did": did,
                    "email": f"{account['handle']}@example.com", "emailConfirmed": True, "active": True}

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.access = {t: (did, 0.0) for t, (did, _exp) in self.access.items()}

    def expire_refresh_tokens(self) -> None:
        with self.lock:
            self.refresh = {t: (did, 0.0) for t, (did, _exp) in self.refresh.items()}

    def revoke_sessions(self) -> None:
        with self.lock:
            self.access.clear()
            self.refresh.clear()

    def next_tid(self) -> str:
        with self.lock:
            micros = max(self._tid_clock + 1, int(time.time() * 1_000_000))
            self._tid_clock = micros
        value = (micros << 10) | self.random.randrange(1024)
        chars = "234567abcdefghijklmnopqrstuvwxyz"
        return "".join(chars[(value >> (5 * i)) & 31] for i in reversed(range(13)))

    def posts_of(self, did: str | None = None) -> list[dict[str, Any]]:
        did = did or self.own_did
        with self.lock:
            return [r for (repo, coll, _k), r in self.records.items()
                    if repo == did and coll == POST and not r["deleted"]]

    def post_as(self, handle: str, text: str, *, reply_to: str = "", quote: str = "", mention: str = "",
                created_at: datetime | None = None, embed: dict[str, Any] | None = None) -> dict[str, Any]:
        """Someone else posts (and is notified about like the AppView does). ``mention`` is a
        handle mentioned in the text (its facet is computed here)."""
        did = self.did_for(handle)
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": _iso(created_at or datetime.now(timezone.utc)),
                                  "langs": ["es"]}
        if mention and f"@{mention}" in text:
            start = text.index(f"@{mention}")
            byte_start = len(text[:start].encode())
            record["facets"] = [{"$type": "app.bsky.richtext.facet",
                                 "index": {"byteStart": byte_start, "byteEnd": byte_start + len(mention.encode()) + 1},
                                 "features": [{"$type": "app.bsky.richtext.facet#mention",
                                               "did": self.did_for(mention)}]}]
        with self.lock:
            if reply_to:
                parent = self._record_at(reply_to)
                root = parent["value"].get("reply", {}).get("root") or {"uri": parent["uri"], "cid": parent["cid"]}
                record["reply"] = {"root": root, "parent": {"uri": parent["uri"], "cid": parent["cid"]}}
            if quote:
                quoted = self._record_at(quote)
                record["embed"] = {"$type": "app.bsky.embed.record",
                                   "record": {"uri": quoted["uri"], "cid": quoted["cid"]}}
            if embed is not None:  # images / video / external, as the author's client sent them
                record["embed"] = copy.deepcopy(embed)
            return self._create(did, POST, self.next_tid(), record, indexed_at=created_at)

    def set_counts(self, uri: str, *, likes: int | None = None, reposts: int | None = None,
                   quotes: int | None = None) -> None:
        with self.lock:
            entry = self._record_at(uri)
            for key, value in (("likeCount", likes), ("repostCount", reposts), ("quoteCount", quotes)):
                if value is not None:
                    entry[key] = value

    def inject(self, endpoint: str, fault: Fault, *, times: int | None = 1, probability: float = 1.0) -> None:
        """``endpoint`` is ``"METHOD nsid"`` (``"POST com.atproto.repo.createRecord"``) or ``"*"``."""
        method, nsid = ("*", "*") if endpoint == "*" else endpoint.split(" ", 1)
        self._add_rule(method, lambda called: nsid in ("*", called), fault, times, probability)

    def requests_to(self, nsid: str, method: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == f"/xrpc/{nsid}" and (method is None or r.method == method)]

    # -- request handling -------------------------------------------------------------------

    def dispatch(self, request: Request, nsid: str) -> tuple[int, Any, dict[str, str]]:
        route = _ROUTES.get((request.method, nsid))
        if route is None:
            if any(n == nsid for _m, n in _ROUTES):
                raise invalid(f"Incorrect HTTP method ({request.method}) expected "
                              f"{'POST' if request.method == 'GET' else 'GET'}")
            raise _xrpc(501, "MethodNotImplemented", "Method Not Implemented")
        result = getattr(self, route)(request)
        return (result[0], result[1], {}) if len(result) == 2 else result

    def _bearer(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        return header[7:] if header.lower().startswith("bearer ") else ""

    def _authenticate(self, request: Request) -> str:
        token = self._bearer(request)
        request.token = token
        if not token:
            raise _xrpc(401, "AuthMissing", "Authentication Required")
        with self.lock:
            entry = self.access.get(token)
        if entry is None:
            if token in self.refresh:
                raise _xrpc(400, "InvalidToken", "Invalid token type")
            raise _xrpc(400, "InvalidToken", "Token could not be verified")
        if entry[1] <= time.time():
            raise _xrpc(400, "ExpiredToken", "Token has expired")
        return entry[0]

    def rate_limit_headers(self, request: Request, nsid: str) -> tuple[dict[str, str], bool]:
        bucket = nsid if nsid in self.rate_limits else "global"
        limit, period = self.rate_limits[bucket]
        who = self._bearer(request) or request.headers.get("x-forwarded-for", "127.0.0.1")
        with self.lock:
            who = self.access.get(who, (who, 0))[0]
            now = time.time()
            window = self._windows.get((who, bucket))
            if window is None or now >= window[0] + period:
                window = [now, 0]
                self._windows[(who, bucket)] = window
            window[1] += 1
            used = window[1]
        headers = {"ratelimit-limit": str(limit), "ratelimit-remaining": str(max(0, limit - used)),
                   "ratelimit-reset": str(int(window[0] + period)), "ratelimit-policy": f"{limit};w={int(period)}"}
        return headers, used > limit

    # -- rendering -----------------------------------------------------------------------------

    def _profile_basic(self, did: str) -> dict[str, Any]:
        account = self.accounts[did]
        return {k: copy.deepcopy(v) for k, v in account.items()
                if k in ("did", "handle", "displayName", "avatar", "associated", "labels", "createdAt")}

    def render_profile(self, did: str) -> dict[str, Any]:
        with self.lock:
            out = copy.deepcopy(self.accounts[did])
            out["postsCount"] = len(self.posts_of(did))
            out.setdefault("banner", "")
            return out

    def render_post(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            repo = AT_URI.match(entry["uri"]).group("repo")
            view = copy.deepcopy(self.tpl_post_view)
            replies = sum(1 for r in self.records.values() if not r["deleted"]
                          and r["value"].get("reply", {}).get("parent", {}).get("uri") == entry["uri"])
            view.update(uri=entry["uri"], cid=entry["cid"], author=self._profile_basic(repo),
                        record=copy.deepcopy(entry["value"]), replyCount=replies,
                        repostCount=entry.get("repostCount", 0), likeCount=entry.get("likeCount", 0),
                        quoteCount=entry.get("quoteCount", 0), bookmarkCount=0, indexedAt=_iso(entry["indexedAt"]),
                        labels=[])
            embed = entry["value"].get("embed")
            view.pop("embed", None)
            if embed and embed.get("$type") == "app.bsky.embed.images":
                view["embed"] = {"$type": "app.bsky.embed.images#view", "images": [
                    {"thumb": f"https://cdn.bsky.app/img/feed_thumbnail/plain/{repo}/{i['image']['ref']['$link']}@jpeg",
                     "fullsize": f"https://cdn.bsky.app/img/feed_fullsize/plain/{repo}/{i['image']['ref']['$link']}@jpeg",
                     "alt": i["alt"]} for i in embed["images"]]}
            elif embed and embed.get("$type") == "app.bsky.embed.external":
                ext = embed["external"]
                view["embed"] = {"$type": "app.bsky.embed.external#view",
                                 "external": {"uri": ext["uri"], "title": ext["title"], "description": ext["description"]}}
            return view

    # -- state changes ----------------------------------------------------------------------

    def _record_at(self, uri: str) -> dict[str, Any]:
        match = AT_URI.match(uri or "")
        if not match:
            raise invalid(f"Invalid at-uri: {uri}")
        repo = match.group("repo")
        if not repo.startswith("did:"):
            try:
                repo = self.did_for(repo)
            except KeyError:
                raise _xrpc(400, "RecordNotFound", f"Could not locate record: {uri}") from None
        entry = self.records.get((repo, match.group("collection"), match.group("rkey")))
        if entry is None or entry["deleted"]:
            raise _xrpc(400, "RecordNotFound", f"Could not locate record: {uri}")
        return entry

    def validate_post(self, did: str, record: dict[str, Any]) -> None:
        """app.bsky.feed.post as the lexicon (and this fake, more strictly) says."""
        def bad(path: str, problem: str) -> HttpError:
            return invalid(f"Invalid app.bsky.feed.post record: Record/{path} {problem}")

        text = record.get("text")
        if not isinstance(text, str):
            raise bad("text", "must be a string")
        if "createdAt" not in record:
            raise bad("", "must have the property \"createdAt\"")
        if not isinstance(record["createdAt"], str) or not DATETIME.match(record["createdAt"]):
            raise bad("createdAt", "must be an valid atproto datetime (both RFC-3339 and ISO-8601)")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            raise bad("text", "must be valid UTF-8") from None
        if len(data) > self.max_bytes:
            raise bad("text", f"must not be longer than {self.max_bytes} characters")
        if graphemes(text) > self.max_graphemes:
            raise bad("text", f"must not be longer than {self.max_graphemes} graphemes")
        langs = record.get("langs", [])
        if not isinstance(langs, list) or len(langs) > self.max_langs:
            raise bad("langs", f"must not have more than {self.max_langs} elements")
        for i, lang in enumerate(langs):
            if not isinstance(lang, str) or not LANGUAGE.match(lang):
                raise bad(f"langs/{i}", "must be a well-formed BCP 47 language tag")
        for i, facet in enumerate(record.get("facets") or []):
            index = facet.get("index") if isinstance(facet, dict) else None
            start, end = (index or {}).get("byteStart"), (index or {}).get("byteEnd")
            if not isinstance(start, int) or not isinstance(end, int) or start < 0 or end <= start:
                raise bad(f"facets/{i}/index", "must have 0 <= byteStart < byteEnd")
            if end > len(data):
                raise bad(f"facets/{i}/index", f"byteEnd {end} is past the end of the text ({len(data)} bytes)")
            for pos in (start, end):
                if pos < len(data) and (data[pos] & 0xC0) == 0x80:
                    raise bad(f"facets/{i}/index", f"byte {pos} is not on a UTF-8 character boundary")
            for feature in facet.get("features") or []:
                kind = feature.get("$type", "")
                if kind == "app.bsky.richtext.facet#mention" and not DID.match(str(feature.get("did", ""))):
                    raise bad(f"facets/{i}/features", "mention did must be a valid did")
                if kind == "app.bsky.richtext.facet#link" and not re.match(r"^[a-z][a-z0-9+.-]*:\S+$",
                                                                           str(feature.get("uri", ""))):
                    raise bad(f"facets/{i}/features", "link uri must be a valid uri")
                if kind == "app.bsky.richtext.facet#tag":
                    tag = str(feature.get("tag", ""))
                    if graphemes(tag) > self.max_tag_graphemes or len(tag.encode()) > self.max_tag_bytes:
                        raise bad(f"facets/{i}/features", "tag is too long")
        embed = record.get("embed")
        if embed is not None:
            kind = embed.get("$type") if isinstance(embed, dict) else None
            if kind == "app.bsky.embed.images":
                images = embed.get("images")
                if not isinstance(images, list) or len(images) > self.max_images:
                    raise bad("embed/images", f"must not have more than {self.max_images} elements")
                for i, image in enumerate(images):
                    if not isinstance(image.get("alt"), str):
                        raise bad(f"embed/images/{i}", "must have the property \"alt\"")
                    self._check_blob(did, image.get("image"), f"embed/images/{i}/image", bad)
            elif kind == "app.bsky.embed.external":
                external = embed.get("external") or {}
                for key in ("uri", "title", "description"):
                    if not isinstance(external.get(key), str):
                        raise bad("embed/external", f"must have the property \"{key}\"")
                if "thumb" in external:
                    self._check_blob(did, external["thumb"], "embed/external/thumb", bad)
            elif kind not in ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia"):
                raise bad("embed", "$type must be one of the union's refs")
        reply = record.get("reply")
        if reply is not None:
            for key in ("root", "parent"):
                ref = reply.get(key) if isinstance(reply, dict) else None
                if not isinstance(ref, dict) or not isinstance(ref.get("uri"), str) or not isinstance(ref.get("cid"), str):
                    raise bad(f"reply/{key}", "must be a strongRef with uri and cid")
                try:
                    target = self._record_at(ref["uri"])
                except HttpError:
                    raise bad(f"reply/{key}", "points to a record that does not exist") from None
                if target["cid"] != ref["cid"]:
                    raise bad(f"reply/{key}", "cid does not match the record")

    def _check_blob(self, did: str, blob: Any, path: str, bad) -> None:
        if not isinstance(blob, dict) or blob.get("$type") != "blob":
            raise bad(path, "should be a blob ref")
        stored = self.blobs.get(str((blob.get("ref") or {}).get("$link")))
        if stored is None or stored["did"] != did:
            raise invalid(f"Could not find blob: {(blob.get('ref') or {}).get('$link')}")
        if not stored["mimeType"].startswith("image/"):
            raise invalid(f"Wrong type of file. It is {stored['mimeType']} but it must match image/*.")
        if stored["size"] > self.image_max_size:
            raise invalid(f"This file is too large. It is {stored['size']} bytes but the maximum size is "
                          f"{self.image_max_size} bytes.")

    def _create(self, did: str, collection: str, rkey: str, record: dict[str, Any], *,
                indexed_at: datetime | None = None) -> dict[str, Any]:
        uri = f"at://{did}/{collection}/{rkey}"
        cid = _cid(json.dumps(record, sort_keys=True).encode() + uri.encode())
        entry = {"uri": uri, "cid": cid, "value": record, "deleted": False,
                 "indexedAt": indexed_at or datetime.now(timezone.utc)}
        self.records[(did, collection, rkey)] = entry
        if collection == POST:
            self._notify(did, entry)
        return entry

    def _notify(self, author: str, entry: dict[str, Any]) -> None:
        record = entry["value"]
        recipients: dict[str, tuple[str, str]] = {}
        parent = record.get("reply", {}).get("parent", {}).get("uri")
        if parent:
            recipients[AT_URI.match(parent).group("repo")] = ("reply", parent)
        embed = record.get("embed") or {}
        if embed.get("$type") == "app.bsky.embed.record":
            quoted = embed["record"]["uri"]
            recipients.setdefault(AT_URI.match(quoted).group("repo"), ("quote", quoted))
        for facet in record.get("facets") or []:
            for feature in facet.get("features") or []:
                if feature.get("$type") == "app.bsky.richtext.facet#mention":
                    recipients.setdefault(feature["did"], ("mention", ""))
        for did, (reason, subject) in recipients.items():
            if did != author and did in self.accounts:
                self.notifications.append({"recipient": did, "uri": entry["uri"], "reason": reason,
                                           "reasonSubject": subject, "indexedAt": entry["indexedAt"]})

    # -- endpoints -------------------------------------------------------------------------

    def create_session(self, request: Request):
        params = request.params()
        identifier, password = str(params.get("identifier") or ""), str(params.get("password") or "")
        if not identifier or not password:
            raise invalid("Input must have the property \"identifier\"" if not identifier
                          else "Input must have the property \"password\"")
        with self.lock:
            did = None
            for candidate, account in self.accounts.items():
                if identifier.lower() in (candidate, account["handle"].lower(), f"{account['handle']}@example.com"):
                    did = candidate
            if did is None or self.passwords.get(did) != password:
                raise _xrpc(401, "AuthenticationRequired", "Invalid identifier or password")
            return 200, self.issue_session(did)

    def refresh_session(self, request: Request):
        token = self._bearer(request)
        if not token:
            raise _xrpc(401, "AuthMissing", "Authentication Required")
        with self.lock:
            entry = self.refresh.get(token)
            if entry is None:
                raise _xrpc(400, "InvalidToken", "Token has been revoked")
            if entry[1] <= time.time():
                raise _xrpc(400, "ExpiredToken", "Token has expired")
            del self.refresh[token]  # rotation: the old refresh JWT is spent
            session = self.issue_session(entry[0])
        return 200, {k: session[k] for k in ("accessJwt", "refreshJwt", "handle", "did", "active")}

    def get_session(self, request: Request):
        did = self._authenticate(request)
        account = self.accounts[did]
        return 200, {"handle": account["handle"], "did": did, "email": f"{account['handle']}@example.com",
                     "emailConfirmed": True, "active": True}

    def resolve_handle(self, request: Request):
        handle = request.q("handle").lower()
        if not HANDLE.match(handle):
            raise invalid("Error: handle must be a valid handle")
        try:
            return 200, {"did": self.did_for(handle)}
        except KeyError:
            raise invalid("Unable to resolve handle") from None

    def upload_blob(self, request: Request):
        did = self._authenticate(request)
        mime = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
        if not request.body:
            raise invalid("Request body is empty")
        cid = _cid(request.body, "bafkrei")
        with self.lock:
            self.blobs[cid] = {"did": did, "mimeType": mime, "size": len(request.body), "data": request.body}
        return 200, {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(request.body)}}

    def create_record(self, request: Request):
        did = self._authenticate(request)
        params = request.params()
        repo, collection, record = params.get("repo"), params.get("collection"), params.get("record")
        if repo not in (did, self.accounts[did]["handle"]):
            raise invalid(f"Invalid repo: {repo}") if repo else invalid("Input must have the property \"repo\"")
        if collection != POST:
            raise invalid(f"Invalid collection: {collection}")
        if not isinstance(record, dict) or record.get("$type", POST) != POST:
            raise invalid("Invalid $type: must be app.bsky.feed.post")
        rkey = params.get("rkey")
        if rkey is not None and (not isinstance(rkey, str) or not TID.match(rkey)):
            raise invalid(f"Invalid record key for app.bsky.feed.post: {rkey}")
        with self.lock:
            self.validate_post(did, record)
            if rkey and (did, collection, rkey) in self.records and not self.records[(did, collection, rkey)]["deleted"]:
                status, error, message = self.duplicate_rkey
                raise _xrpc(status, error, message)
            entry = self._create(did, collection, rkey or self.next_tid(), {**record, "$type": POST})
        return 200, {"uri": entry["uri"], "cid": entry["cid"],
                     "commit": {"cid": _cid(entry["cid"].encode()), "rev": self.next_tid()},
                     "validationStatus": "valid"}

    def get_record(self, request: Request):
        repo, collection, rkey = request.q("repo"), request.q("collection"), request.q("rkey")
        if not repo or not collection or not rkey:
            raise invalid("Params must have the properties \"repo\", \"collection\" and \"rkey\"")
        with self.lock:
            entry = self._record_at(f"at://{repo}/{collection}/{rkey}")
            return 200, {"uri": entry["uri"], "cid": entry["cid"], "value": copy.deepcopy(entry["value"])}

    def list_records(self, request: Request):
        repo, collection = request.q("repo"), request.q("collection")
        try:
            limit = max(1, min(int(request.q("limit", "50") or 50), 100))
        except ValueError:
            raise invalid("limit must be an integer") from None
        cursor, reverse = request.q("cursor"), request.q("reverse") in ("true", "1")
        with self.lock:
            if not repo.startswith("did:"):
                try:
                    repo = self.did_for(repo)
                except KeyError:
                    raise invalid(f"Could not find repo: {repo}") from None
            items = sorted(((k[2], v) for k, v in self.records.items()
                            if k[0] == repo and k[1] == collection and not v["deleted"]), reverse=not reverse)
            if cursor:
                items = [(k, v) for k, v in items if (k > cursor if reverse else k < cursor)]
            page = items[:limit]
            out = {"records": [{"uri": v["uri"], "cid": v["cid"], "value": copy.deepcopy(v["value"])} for _k, v in page]}
            if len(page) == limit:
                out["cursor"] = page[-1][0]
            return 200, out

    def delete_record(self, request: Request):
        did = self._authenticate(request)
        params = request.params()
        if params.get("repo") not in (did, self.accounts[did]["handle"]):
            raise invalid(f"Invalid repo: {params.get('repo')}")
        with self.lock:
            entry = self.records.get((did, str(params.get("collection")), str(params.get("rkey"))))
            if entry is not None:
                entry["deleted"] = True
                self.notifications = [n for n in self.notifications if n["uri"] != entry["uri"]]
        return 200, {"commit": {"cid": _cid(secrets.token_bytes(8)), "rev": self.next_tid()}}

    def get_profile(self, request: Request):
        self._authenticate(request)
        actor = request.q("actor")
        with self.lock:
            did = actor if actor in self.accounts else None
            if did is None:
                try:
                    did = self.did_for(actor)
                except KeyError:
                    raise invalid("Profile not found") from None
            return 200, self.render_profile(did)

    def get_posts(self, request: Request):
        self._authenticate(request)
        uris = request.q_all("uris")
        if len(uris) > 25:
            raise invalid("uris must not have more than 25 elements")
        out = []
        with self.lock:
            for uri in uris:
                try:
                    out.append(self.render_post(self._record_at(uri)))
                except HttpError:
                    continue  # missing posts are left out
        return 200, {"posts": out}

    def list_notifications(self, request: Request):
        did = self._authenticate(request)
        reasons = request.q_all("reasons")
        limit = max(1, min(int(request.q("limit", "50") or 50), 100))
        cursor = request.q("cursor")
        with self.lock:
            items = [n for n in self.notifications if n["recipient"] == did and (not reasons or n["reason"] in reasons)]
            items.sort(key=lambda n: (n["indexedAt"], n["uri"]), reverse=True)
            if cursor:
                items = [n for n in items if _iso(n["indexedAt"]) + "|" + n["uri"] < cursor]
            page = items[:limit]
            out = []
            for notification in page:
                entry = self._record_at(notification["uri"])
                author = AT_URI.match(entry["uri"]).group("repo")
                item = {"uri": entry["uri"], "cid": entry["cid"], "author": self._profile_basic(author),
                        "reason": notification["reason"], "record": copy.deepcopy(entry["value"]), "isRead": False,
                        "indexedAt": _iso(notification["indexedAt"]), "labels": []}
                if notification["reasonSubject"]:
                    item["reasonSubject"] = notification["reasonSubject"]
                out.append(item)
            result: dict[str, Any] = {"notifications": out, "priority": False,
                                      "seenAt": _iso(datetime.now(timezone.utc) - timedelta(days=1))}
            if len(page) == limit:
                result["cursor"] = _iso(page[-1]["indexedAt"]) + "|" + page[-1]["uri"]
            return 200, result

    def get_author_feed(self, request: Request):
        """``app.bsky.feed.getAuthorFeed``: an actor's posts, newest first; ``filter``
        ``posts_no_replies`` leaves replies out; an unknown actor is 400 "Profile not found"."""
        self._authenticate(request)
        actor = request.q("actor")
        try:
            limit = max(1, min(int(request.q("limit", "50") or 50), 100))
        except ValueError:
            raise invalid("limit must be an integer") from None
        cursor = request.q("cursor")
        with self.lock:
            did = actor if actor in self.accounts else None
            if did is None:
                try:
                    did = self.did_for(actor)
                except KeyError:
                    raise invalid("Profile not found") from None
            items = [e for e in self.posts_of(did)
                     if request.q("filter") != "posts_no_replies" or not e["value"].get("reply")]
            items.sort(key=lambda e: (e["value"]["createdAt"], e["uri"]), reverse=True)
            if cursor:
                items = [e for e in items if e["value"]["createdAt"] + "|" + e["uri"] < cursor]
            page = items[:limit]
            out: dict[str, Any] = {"feed": [{"post": self.render_post(e)} for e in page]}
            if len(page) == limit:
                out["cursor"] = page[-1]["value"]["createdAt"] + "|" + page[-1]["uri"]
            return 200, out

    def search_posts(self, request: Request):
        self._authenticate(request)
        query = request.q("q").strip().lower()
        if not query:
            raise invalid("Params must have the property \"q\"")
        limit = max(1, min(int(request.q("limit", "25") or 25), 100))
        offset = int(request.q("cursor") or 0)
        since = _parse_time(request.q("since")) if request.q("since") else None
        with self.lock:
            hits = [e for e in self.records.values() if not e["deleted"] and e["uri"].split("/")[3] == POST
                    and query in e["value"].get("text", "").lower()
                    and (since is None or _parse_time(e["value"]["createdAt"]) >= since)]
            hits.sort(key=lambda e: e["value"]["createdAt"], reverse=True)
            page = hits[offset:offset + limit]
            out: dict[str, Any] = {"posts": [self.render_post(e) for e in page], "hitsTotal": len(hits)}
            if offset + limit < len(hits):
                out["cursor"] = str(offset + limit)
            return 200, out


_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "com.atproto.server.createSession"): "create_session",
    ("POST", "com.atproto.server.refreshSession"): "refresh_session",
    ("GET", "com.atproto.server.getSession"): "get_session",
    ("GET", "com.atproto.identity.resolveHandle"): "resolve_handle",
    ("POST", "com.atproto.repo.uploadBlob"): "upload_blob",
    ("POST", "com.atproto.repo.createRecord"): "create_record",
    ("GET", "com.atproto.repo.getRecord"): "get_record",
    ("GET", "com.atproto.repo.listRecords"): "list_records",
    ("POST", "com.atproto.repo.deleteRecord"): "delete_record",
    ("GET", "app.bsky.actor.getProfile"): "get_profile",
    ("GET", "app.bsky.feed.getPosts"): "get_posts",
    ("GET", "app.bsky.feed.getAuthorFeed"): "get_author_feed",
    ("GET", "app.bsky.notification.listNotifications"): "list_notifications",
    ("GET", "app.bsky.feed.searchPosts"): "search_posts",
}


class _Handler(server.FakeHandler):
    server_version = "FakePDS"

    def _handle(self, method: str) -> None:
        fake: FakeBluesky = self.server.fake  # type: ignore[attr-defined]
        parts, headers, body = self.read_request()
        request = Request(method, parts.path, parse_qsl(parts.query, keep_blank_values=True),
                          headers, body)
        with fake.lock:
            fake.requests.append(request)
        nsid = parts.path[len("/xrpc/"):] if parts.path.startswith("/xrpc/") else ""
        fault = fake._take_fault(method, nsid)
        delay = fake.latency + (fault.seconds if fault and fault.kind == "latency" else 0.0)
        if delay:
            fake._stopping.wait(delay)
        limit_headers, over = fake.rate_limit_headers(request, nsid)
        if fault and not fault.after:
            if fault.kind == "lost":
                fake._stopping.wait(fault.seconds)
                self.close_connection = True
                request.status = -1
                return None
            if fault.kind == "rate_limit":
                headers = {**limit_headers, "ratelimit-remaining": "0",
                           "ratelimit-reset": str(int(time.time() + fault.reset_in))}
                if fault.retry_after is not None:
                    headers["retry-after"] = str(int(fault.retry_after))
                return self._send(request, 429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                                  headers)
            if fault.kind in ("status", "xrpc", "malformed"):
                extra = {"retry-after": str(int(fault.retry_after))} if fault.retry_after is not None else {}
                return self._send(request, fault.status, None, {**limit_headers, **extra},
                                  raw=(fault.body or "").encode())
        if over:
            return self._send(request, 429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                              limit_headers)
        if not nsid:
            return self._send(request, 404, {"error": "NotFound", "message": "Not Found"}, limit_headers)
        try:
            status, payload, headers = fake.dispatch(request, nsid)
        except HttpError as error:
            status, payload, headers = error.status, error.payload, error.headers
        headers = {**limit_headers, **headers}
        if fault and fault.after:
            if fault.kind == "hang":
                fake._stopping.wait(fault.seconds)
                return self._send(request, status, payload, headers)
            if fault.kind == "drop":
                self.close_connection = True
                request.status = -1
                return None
            if fault.kind in ("status", "malformed"):
                return self._send(request, fault.status, None, headers, raw=(fault.body or "").encode())
        return self._send(request, status, payload, headers)



FakeBluesky.handler_class = _Handler
