"""Operations endpoints (``views_ops``): no sign-in, no tenant data."""

from django.urls import path

from . import views_ops

urlpatterns = [
    path("healthz", views_ops.healthz, name="healthz"),
    path("readyz", views_ops.readyz, name="readyz"),
    path("metrics", views_ops.metrics_view, name="metrics"),
]
