"""Benchmarks run by `python manage.py bench <name>`, each on its own generated database.

A benchmark registers itself here with `register()`. The `bench` command gives it a
sub-command, creates (or reuses) its database and re-runs itself in a child process whose
DATABASE_URL points at that database, so a benchmark never sees the normal database.
Inside the child, `run(out, options, db)` builds its data set once (`db.built()` /
`db.mark_built()` make a second run reuse it) and prints its measurements.

To add `bench search`: write `dam/management/benchmarks/search.py` with `add_arguments`,
`run` and a `register(Benchmark(...))` call, and import it in `load()` below.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_DATABASE = "dam_bench"


@dataclass(frozen=True)
class Benchmark:
    name: str
    help: str
    # Adds the benchmark's own options to its sub-command parser.
    add_arguments: Callable[[Any], None]
    # Runs in the child process, connected to the bench database: (out, options, db).
    run: Callable[[Any, dict, Any], None]
    # Checks the options in the parent, before any database is touched (raise CommandError).
    validate: Callable[[dict], None] | None = None
    default_database: str = DEFAULT_DATABASE


BENCHMARKS: dict[str, Benchmark] = {}


def register(benchmark: Benchmark) -> Benchmark:
    if benchmark.name in BENCHMARKS:
        raise ValueError(f"benchmark {benchmark.name!r} is registered twice")
    BENCHMARKS[benchmark.name] = benchmark
    return benchmark


def load() -> dict[str, Benchmark]:
    """Import every benchmark module (each registers itself) and return the registry."""
    from dam.management.benchmarks import (  # noqa: F401
        access,
        metadata,
        moderation,
        renditions,
        reports,
        search,
    )

    return BENCHMARKS


# -- small helpers shared by benchmarks --------------------------------------------------
def positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 30 samples is the 29th smallest)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric=()) -> str:
    """A GitHub Markdown table; columns whose index is in `numeric` align right."""
    align = ["---:" if i in numeric else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
