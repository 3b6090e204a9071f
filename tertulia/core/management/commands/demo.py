"""`tertulia demo`: build the demo workspace (a bilingual agency with a year of history)."""

from __future__ import annotations

from datetime import date

from django.core.management import BaseCommand, CommandError
from django.utils.translation import gettext as _


class Command(BaseCommand):
    help = "Create the demo workspace: three brands, their accounts and a year of history."

    def add_arguments(self, parser):
        from tertulia.core import demo

        parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED,
                            help="Random seed: the same seed (and --today) gives the same workspace.")
        parser.add_argument("--brands", type=int, default=3, help="Number of brands (3 or more for the full demo).")
        parser.add_argument("--interactions", type=int, default=demo.DEFAULT_INTERACTIONS,
                            help="Comments, mentions and direct messages to create, in total.")
        parser.add_argument("--months", type=int, default=12, help="Months of history.")
        parser.add_argument("--posts-per-week", type=float, default=None,
                            help="Posts per brand and week (default: each brand's own cadence).")
        parser.add_argument("--today", type=date.fromisoformat, default=None,
                            help="Last day of the history (YYYY-MM-DD); default: today.")
        parser.add_argument("--batch-size", type=int, default=2000, help="Interactions per ingest batch.")
        parser.add_argument("--reset", action="store_true", help="Delete an existing demo workspace first.")

    def handle(self, *args, seed, brands, interactions, months, posts_per_week, today, batch_size, reset,
               verbosity=1, **options):
        from tertulia.core import demo

        if demo.exists():
            if not reset:
                raise CommandError(_("The demo workspace already exists. Run “tertulia demo --reset” to delete "
                                     "it and build it again."))
            self.stdout.write(_("Deleting the existing demo workspace…"))
            demo.remove()
        opts = demo.DemoOptions(seed=seed, brands=brands, interactions=interactions, months=months, today=today,
                                posts_per_week=posts_per_week, batch_size=batch_size)
        progress = (lambda message: self.stdout.write(message)) if verbosity >= 1 else None
        try:
            stats = demo.generate(opts, progress=progress)
        except demo.DemoExists as exc:  # created by someone else meanwhile
            raise CommandError(str(exc)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if verbosity >= 2:
            for label, n in stats.counts.items():
                self.stdout.write(f"  {label}: {n}")
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(
                _("Demo workspace ready: %(brands)d brands, %(interactions)d interactions in %(seconds).1f s.")
                % {"brands": brands, "interactions": stats.interactions, "seconds": stats.seconds["total"]}
            ))
