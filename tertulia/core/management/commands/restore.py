"""`tertulia restore FILE [--yes]`: put a `tertulia backup` archive back (core/backup.py)."""

from __future__ import annotations

from django.core.management import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Restore the database and the media files from a `tertulia backup` archive. Everything is checked "
            "first; a refusal changes nothing. Stop the web processes and the consumers before restoring.")

    def add_arguments(self, parser):
        parser.add_argument("archive", help="The archive written by `tertulia backup`.")
        parser.add_argument("--yes", action="store_true",
                            help="Replace the contents of a database that is not empty.")
        parser.add_argument("--database", default="default", help="Database alias (default: default).")

    def handle(self, *args, archive, yes=False, database="default", **options):
        from tertulia.core import backup

        try:
            manifest = backup.restore(archive, using=database, yes=yes)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        except FileNotFoundError:
            raise CommandError(f"No such file: {archive}") from None
        media = sum(1 for name in manifest["files"] if name.startswith("media/"))
        self.stdout.write(self.style.SUCCESS(
            f"Restored the backup of {manifest['created_at']} (Tertulia {manifest['tertulia_version']}): "
            f"{sum(manifest['counts'].values())} rows, {media} media file(s). "
            "Run `tertulia migrate` if this version of Tertulia is newer than the backup's."))
        self.stdout.write(self.style.WARNING(
            "Publishing is paused on every brand: posts and replies scheduled in the backup may already have "
            "gone out since it was made. Check each brand's calendar, then resume it (Brand settings)."))
        self.stdout.write(self.style.WARNING(backup.KEY_REMINDER))
