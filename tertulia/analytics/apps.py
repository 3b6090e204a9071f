from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "tertulia.analytics"
    label = "analytics"
