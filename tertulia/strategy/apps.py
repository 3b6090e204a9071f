from django.apps import AppConfig


class StrategyConfig(AppConfig):
    name = "tertulia.strategy"
    label = "strategy"
