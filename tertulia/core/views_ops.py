"""Operations endpoints: liveness, readiness and Prometheus metrics (``core/urls_ops.py``).

No sign-in and no tenant data: they are for the load balancer, the orchestrator and the
monitoring system. ``/metrics`` is guarded (``metrics_allowed``): with ``METRICS_TOKEN`` set, a
``Authorization: Bearer <token>`` header; without it, only a direct request from this machine
(loopback, and no proxy header: behind a reverse proxy on the same host every visitor would
otherwise look local).
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import health, metrics

PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


@never_cache
@require_safe
def healthz(request):
    """The process is up and serving (no I/O at all)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request):
    """The database and the job queue answer: 200, else 503, with each check's status."""
    ready, body = health.readiness()
    return JsonResponse(body, status=200 if ready else 503)


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def metrics_allowed(request) -> int:
    """0 when the request may read the metrics, else the HTTP status to refuse it with."""
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return 401
        return 0 if hmac.compare_digest(given.strip().encode(), token.encode()) else 403
    # Behind a proxy on the same machine every visitor may arrive from loopback, with or without
    # a forwarding header (a plain proxy_pass adds none): there, only a token opens the metrics.
    if getattr(settings, "BEHIND_PROXY", False) or any(request.META.get(h) for h in PROXY_HEADERS):
        return 403
    return 0 if _is_loopback(request.META.get("REMOTE_ADDR", "")) else 403


@never_cache
@require_safe
def metrics_view(request):
    refused = metrics_allowed(request)
    if refused:
        response = HttpResponse("Forbidden\n" if refused == 403 else "Unauthorized\n", status=refused,
                                content_type="text/plain; charset=utf-8")
        if refused == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.exposition(), content_type=metrics.CONTENT_TYPE)
