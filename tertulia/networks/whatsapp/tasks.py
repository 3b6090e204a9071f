"""WhatsApp's background work (imported by ``tertulia.networks.tasks`` so Huey finds it)."""

from huey.contrib.djhuey import db_task


@db_task()
def mark_read(conversation_id: int) -> str:
    from . import services

    return services.mark_read(conversation_id)
