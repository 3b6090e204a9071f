from django.apps import AppConfig


class GiveawaysConfig(AppConfig):
    name = "tertulia.giveaways"
    label = "giveaways"
