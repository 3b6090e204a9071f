from django.apps import AppConfig


class NetworksConfig(AppConfig):
    name = "tertulia.networks"
    label = "networks"
