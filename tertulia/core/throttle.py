"""Login throttling: too many failures for one username, or from one address, lock it out
for the rest of the window. Stored in the database so every web process sees the same."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .models import LoginFailure


def _window_start():
    return timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def is_locked(username: str, ip: str | None) -> bool:
    since = _window_start()
    recent = LoginFailure.objects.filter(created_at__gte=since)
    by_user = recent.filter(username=username.lower()[:150]).count()
    by_ip = recent.filter(ip=ip).count() if ip else 0
    # An address gets more room than a username: an office may share one.
    return by_user >= settings.LOGIN_MAX_FAILURES or by_ip >= settings.LOGIN_MAX_FAILURES * 4


def prune() -> int:
    return LoginFailure.objects.filter(created_at__lt=_window_start()).delete()[0]


def record_failure(username: str, ip: str | None) -> None:
    LoginFailure.objects.create(username=username.lower()[:150], ip=ip)


def clear(username: str) -> None:
    LoginFailure.objects.filter(Q(username=username.lower()[:150])).delete()
