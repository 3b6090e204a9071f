from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "tertulia.content"
    label = "content"
