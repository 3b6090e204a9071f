"""Conversation.opened_at (when the customer first wrote), backfilled from the interactions, and
the indexes the analytics dashboard reads: conversations by (brand, opened_at), covering the
inbox metrics' columns, and a covering (brand, created_at, direction, sentiment) for the sentiment mix."""

from django.db import migrations, models


def backfill_opened_at(apps, schema_editor):
    # One statement on SQLite and PostgreSQL alike: each conversation's earliest inbound
    # message (NULL when the customer never wrote, e.g. a thread the brand started).
    conversation = apps.get_model("inbox", "Conversation")._meta.db_table
    interaction = apps.get_model("inbox", "Interaction")._meta.db_table
    qn = schema_editor.quote_name
    schema_editor.execute(
        f"UPDATE {qn(conversation)} SET opened_at = ("
        f"SELECT MIN(i.created_at) FROM {qn(interaction)} i "
        f"WHERE i.conversation_id = {qn(conversation)}.id AND i.direction = %s)",
        ["in"],
    )


class Migration(migrations.Migration):

    dependencies = [
        ("inbox", "0003_whatsapp_messages_templates"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="opened_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        # Filled before the index is built (one pass, not an index update per row).
        migrations.RunPython(backfill_opened_at, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(fields=["brand", "opened_at", "first_response_at", "closed_at", "status",
                                       "first_response_due_at"], name="inbox_conv_opened"),
        ),
        migrations.AddIndex(
            model_name="interaction",
            index=models.Index(fields=["brand", "created_at", "direction", "sentiment"], name="inbox_inter_sentiment"),
        ),
    ]
