from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_triggers(sender, using="default", **kwargs):
    from django.db import connections

    from . import triggers

    triggers.ensure(connections[using])


class InboxConfig(AppConfig):
    name = "tertulia.inbox"
    label = "inbox"

    def ready(self):
        # After every migrate: SQLite loses a table's triggers when a migration rebuilds it.
        post_migrate.connect(_ensure_triggers, sender=self, dispatch_uid="inbox-day-triggers")
