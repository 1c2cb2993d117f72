"""`python manage.py bench <benchmark>`: measurements on a separate, generated database.

Benchmarks live in dam/management/benchmarks/ (one module each, registered there). This
command gives each a sub-command with the shared options below, prepares the bench
database, and runs the benchmark in a child process connected to that database only.
"""

from __future__ import annotations

import json
import os

from django.core.management.base import BaseCommand, CommandError

from dam.management.benchmarks import BENCHMARKS, load
from dam.management.benchmarks import database as bench_db

# Options of every sub-command that the parent handles itself.
_PARENT_OPTIONS = {"database_url", "fresh", "drop"}


class Command(BaseCommand):
    help = (
        "Run a benchmark on its own generated database (never the application's): "
        "`bench access` measures the permission-filtered library pages at scale."
    )

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(
            dest="benchmark", metavar="BENCHMARK", title="benchmarks", required=True
        )
        self._dests = {}
        for name, benchmark in sorted(load().items()):
            sub = subparsers.add_parser(name, help=benchmark.help, description=benchmark.help)
            benchmark.add_arguments(sub)
            sub.add_argument(
                "--database-url",
                help=(
                    "PostgreSQL URL of the bench database (created if missing). Default: "
                    f"database {benchmark.default_database!r} on the server of DATABASE_URL."
                ),
            )
            sub.add_argument(
                "--fresh",
                action="store_true",
                help="Drop and rebuild the bench database even if its data set matches.",
            )
            sub.add_argument(
                "--drop", action="store_true", help="Drop the bench database when done."
            )
            self._dests[name] = {a.dest for a in sub._actions if a.dest != "help"}

    def handle(self, *args, **options):
        name = options["benchmark"]
        benchmark = BENCHMARKS.get(name)
        if benchmark is None:  # argparse already refuses unknown names; belt and braces
            raise CommandError(f"Unknown benchmark {name!r}; choose from {sorted(BENCHMARKS)}.")
        child = os.environ.get(bench_db.CHILD_ENV)
        if child:
            spec = json.loads(child)
            if spec.get("benchmark") != name:
                raise CommandError(f"bench child was started for {spec.get('benchmark')!r}.")
            db = bench_db.BenchDatabase(spec["database"])
            benchmark.run(self.stdout, {**spec["options"], "verbosity": options["verbosity"]}, db)
            return

        own = {
            key: value
            for key, value in options.items()
            if key in self._dests[name] and key not in _PARENT_OPTIONS
        }
        if benchmark.validate:
            benchmark.validate(own)
        target = bench_db.resolve(options["database_url"], benchmark.default_database)
        say = self.stdout.write
        bench_db.prepare(target, fresh=options["fresh"], say=say)
        try:
            bench_db.run_child(target, name, own, say)
        finally:
            if options["drop"]:
                bench_db.drop(target, say=say)
