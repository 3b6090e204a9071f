"""Listening pages: trends, spike alerts and their settings (see ``views_trends``)."""

from django.urls import path

from . import views_trends as views

_b = "brands/<int:brand_id>/listening/"

urlpatterns = [
    path(_b + "trends/", views.trends_page, name="listening_trends"),
    path(_b + "alerts/", views.alerts_page, name="listening_alerts"),
    path(_b + "alerts/<int:alert_id>/", views.alert_detail, name="listening_alert"),
    path(_b + "alert-settings/", views.settings_page, name="listening_settings"),
]
