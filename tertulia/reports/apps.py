from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "tertulia.reports"
    label = "reports"
