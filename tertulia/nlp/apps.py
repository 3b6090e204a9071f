from django.apps import AppConfig


class NlpConfig(AppConfig):
    name = "tertulia.nlp"
    label = "nlp"
