"""InboxDay (the inbox figures of a brand's UTC day, for the dashboard) and the triggers that
mark a day dirty whenever a conversation or an inbound interaction that counts in it changes.

The dirty marks live in ``inbox_day_dirty`` (no Django model: only these triggers write it, and
``inbox.daily`` reads and clears it by raw SQL). Its ``gen`` tells a rebuild whether the day
changed again while it was being computed:

- SQLite (one writer at a time): one row per (brand, day); every change bumps ``gen``.
- PostgreSQL: an append-only log, ``gen`` a sequence, written by statement-level triggers from
  their transition tables (one row per day a statement touched). No row is ever updated, so
  concurrent ingestion never waits on, or deadlocks over, a hot (brand, today) row.

A rebuild deletes exactly the marks it read (by ``gen``), so a change committed after it read
them keeps its own mark. Existing data is marked dirty here; the periodic task builds it.
"""

from django.db import migrations, models
import django.db.models.deletion
import django.utils.timezone

from tertulia.inbox import triggers


def create_triggers(apps, schema_editor):
    triggers.create(schema_editor.execute, schema_editor.connection.vendor, backfill=True)


def drop_triggers(apps, schema_editor):
    triggers.drop(schema_editor.execute, schema_editor.connection.vendor)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0004_brand_branding'),
        ('inbox', '0004_conversation_opened_at'),
    ]

    operations = [
        migrations.CreateModel(
            name='InboxDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('data', models.JSONField(default=dict)),
                ('quarters', models.BinaryField(default=b'')),
                ('first_response', models.BinaryField(default=b'')),
                ('resolution', models.BinaryField(default=b'')),
                ('computed_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('brand', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.brand')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('brand', 'day'), name='uniq_inbox_day')],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
