"""`tertulia backup [--output FILE]`: the database and the media in one archive (core/backup.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from django.core.management import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Back up the database and the media files into one archive (.tar.gz or .tar). The encryption "
            "keys are not included: keep them in your own safe place.")

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", default=None,
                            help="Archive to write (default: tertulia-backup-<UTC time>.tar.gz in this directory).")
        parser.add_argument("--database", default="default", help="Database alias (default: default).")

    def handle(self, *args, output=None, database="default", **options):
        from tertulia.core import backup

        output = output or datetime.now(timezone.utc).strftime("tertulia-backup-%Y%m%dT%H%M%SZ.tar.gz")
        try:
            manifest = backup.backup(output, using=database)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        media = sum(1 for name in manifest["files"] if name.startswith("media/"))
        rows = sum(manifest["counts"].values())
        self.stdout.write(self.style.SUCCESS(
            f"Backup written to {output}: {manifest['database_vendor']} database ({rows} rows in "
            f"{len(manifest['counts'])} tables), {media} media file(s)."))
        self.stdout.write(self.style.WARNING(backup.KEY_REMINDER))
