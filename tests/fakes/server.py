"""What every loopback fake network shares: the fault vocabulary, fault rules, and running
a real HTTP server on 127.0.0.1 in a thread. Each network's fake adds its own routes, its
own error bodies (``Fault`` subclasses) and its own way of naming an endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit


@dataclass
class Fault:
    kind: str  # latency | status | rate_limit | hang | drop | lost | malformed | unauthorized | xrpc
    seconds: float = 0.0
    status: int = 503
    body: str | None = None
    reset_in: float = 60.0
    retry_after: float | None = None
    after: bool = False  # process the request first, then answer with the fault

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        return cls("latency", seconds=seconds)

    @classmethod
    def rate_limited(cls, reset_in: float = 60.0, *, retry_after: float | None = None) -> Fault:
        return cls("rate_limit", status=429, reset_in=reset_in, retry_after=retry_after)

    @classmethod
    def timeout_after(cls, seconds: float = 5.0) -> Fault:
        """Process the request (create the post), then stall longer than the client waits."""
        return cls("hang", seconds=seconds, after=True)

    @classmethod
    def lost(cls, seconds: float = 5.0) -> Fault:
        """The request never reaches the application (a proxy holds it, then drops it): wait,
        close the connection, process nothing."""
        return cls("lost", seconds=seconds)

    @classmethod
    def drop_after(cls) -> Fault:
        """Process the request, then close the connection without an answer."""
        return cls("drop", after=True)


@dataclass
class FaultRule:
    method: str  # "*" or an HTTP method
    matches: Callable[[str], bool]  # does the rule apply to this endpoint?
    fault: Fault
    times: int | None
    probability: float
    hits: int = 0


class LoopbackServer:
    """Lifecycle and fault injection. The fake's ``__init__`` sets ``lock``, ``random``,
    ``_rules``, ``_stopping``, ``_server`` and ``_thread``; its class sets ``handler_class``
    and ``thread_name`` and defines ``_seed_accounts``."""

    handler_class: type
    thread_name: str

    def start(self):
        server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        self._seed_accounts()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _add_rule(self, method: str, matches: Callable[[str], bool], fault: Fault, times: int | None,
                  probability: float) -> None:
        with self.lock:
            self._rules.append(FaultRule(method.upper(), matches, fault, times, probability))

    def clear_faults(self) -> None:
        with self.lock:
            self._rules.clear()

    def _take_fault(self, method: str, endpoint: str) -> Fault | None:
        with self.lock:
            for rule in self._rules:
                if rule.method not in ("*", method) or not rule.matches(endpoint):
                    continue
                if rule.times is not None and rule.hits >= rule.times:
                    continue
                if rule.probability < 1.0 and self.random.random() >= rule.probability:
                    continue
                rule.hits += 1
                return rule.fault
        return None


class FakeHandler(BaseHTTPRequestHandler):
    """The HTTP plumbing every fake shares: quiet, keep-alive, every method to ``_handle``.
    A fake's handler sets ``server_version`` (what the real server announces) and defines
    ``_handle(method)``; ``read_request`` gives it the parsed path, the headers and the body."""

    protocol_version = "HTTP/1.1"
    sys_version = ""
    timeout = 30

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def read_request(self) -> tuple[SplitResult, dict[str, str], bytes]:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        return urlsplit(self.path), {k.lower(): v for k, v in self.headers.items()}, body

    def _handle(self, method: str) -> None:  # pragma: no cover - each fake defines it
        raise NotImplementedError

    # What every answer of this fake carries (the real server's content type and headers).
    content_type = "application/json; charset=utf-8"
    extra_headers: dict[str, str] = {}

    def _send(self, request, status: int, payload, headers: dict[str, str] | None = None,
              raw: bytes | None = None, content_type: str | None = None) -> None:
        """Answer with ``payload`` as JSON (nothing for None) or the ``raw`` bytes, and record
        the status on the request. A client that hung up is not an error of the fake."""
        if request is not None:
            request.status = status
        body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        try:
            self.send_response(status)
            self.send_header("content-type", content_type or self.content_type)
            self.send_header("content-length", str(len(body)))
            for key, value in {**self.extra_headers, **(headers or {})}.items():
                if key.lower() not in ("content-type", "content-length"):
                    self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # BrokenPipeError, ConnectionResetError: the client gave up
            self.close_connection = True


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    """A ``multipart/form-data`` body: its text fields, and its files as (filename, type, bytes)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True) or b""
        if part.get_filename():
            files[name] = (part.get_filename(), part.get_content_type(), content)
        else:
            fields[name] = content.decode("utf-8", "replace")
    return fields, files


def request_params(query: str, headers: dict[str, str], body: bytes) -> tuple[dict[str, Any], dict]:
    """Query string and body (JSON object, multipart or form-encoded) as one dict, and the files."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    files: dict[str, tuple[str, str, bytes]] = {}
    ctype = headers.get("content-type", "")
    if body and ctype.startswith("application/json"):
        data = json.loads(body)
        if isinstance(data, dict):
            params.update(data)
    elif body and ctype.startswith("multipart/form-data"):
        fields, files = parse_multipart(ctype, body)
        params.update(fields)
    elif body:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params, files
