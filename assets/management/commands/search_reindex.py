"""`python manage.py search_reindex`: recompute every asset's search vector.

Words are lower-cased and text metadata values upper-cased when an asset is written, by
the database's case rules; after a change of its locale or of the libc/ICU version under
it, run this so searches compare by the same rules. Batches commit one by one: the
library stays usable, and an interrupted run can simply be started again.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from assets import services


class Command(BaseCommand):
    help = "Recompute every asset's search vector, in batches (after a locale change)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch",
            type=int,
            default=services.SEARCH_REINDEX_BATCH,
            help=f"assets per transaction (default {services.SEARCH_REINDEX_BATCH:,})",
        )

    def handle(self, *args, batch: int, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1.")

        def say(done: int, span: int) -> None:
            if options["verbosity"] >= 2:
                self.stdout.write(f"  {done:,} assets re-indexed (ids span {span:,})")

        done = services.search_vectors_rebuild(batch=batch, say=say)
        self.stdout.write(f"Re-indexed {done:,} assets.")
