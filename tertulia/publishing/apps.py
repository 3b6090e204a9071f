from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "tertulia.publishing"
    label = "publishing"
