"""`bench metadata`: how long the rules engine and the live form take on a large schema.

Builds --fields fields (every fifth a list of --list-values values, alternately single-
and multi-select; the others text, number and date), and --rules rules, each on a random
field reading one or two earlier fields (so no cycles), with random actions. Then, on
random values, times (best effort, --repeat samples each):

- loading the schema from PostgreSQL (`metadata.selectors.schema_load`), and getting it
  when the process already has it (`schema_get`: one query for the revision token);
- one engine evaluation (`metadata.engine.evaluate`, no database);
- the write check of an edit (`metadata.services.metadata_resolve`);
- one live-form re-render without the network (form state + the fields template).

Prints a Markdown table of p50 and p95 in milliseconds.
"""

from __future__ import annotations

import contextlib
import random
import time

from django.contrib.auth import get_user_model
from django.template.loader import render_to_string

from dam.management.benchmarks import (
    Benchmark,
    markdown_table,
    median,
    percentile,
    positive_int,
    register,
)


def add_arguments(parser) -> None:
    parser.add_argument("--fields", type=positive_int, default=60, help="fields (default 60)")
    parser.add_argument(
        "--list-values", type=positive_int, default=3000, help="values per list field (3000)"
    )
    parser.add_argument("--rules", type=positive_int, default=200, help="rules (default 200)")
    parser.add_argument(
        "--repeat", type=positive_int, default=200, help="samples per measurement (200)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (7)")


def _kind(i: int) -> str:
    if i % 5 == 0:
        return "enum" if (i // 5) % 2 == 0 else "set"
    return ("string", "number", "date", "string")[i % 5 - 1]


def build(options: dict, rng: random.Random):
    from accounts.models import Role
    from metadata import services

    admin = get_user_model().objects.create_user(
        "bench-metadata@example.com", None, role=Role.MASTER_ADMIN
    )
    fields = []
    for i in range(options["fields"]):
        kind = _kind(i)
        values = None
        if kind in ("enum", "set"):
            values = [f"Value {i}-{n}" for n in range(options["list_values"])]
        fields.append(
            services.field_create(actor=admin, label=f"Field {i}", type=kind, values=values)
        )
    definitions = {f.external_id: f for f in fields}
    ids = [f.external_id for f in fields]
    made = 0
    while made < options["rules"] and len(ids) > 1:
        target_index = rng.randrange(1, len(ids))
        target = definitions[ids[target_index]]
        sources = rng.sample(ids[:target_index], k=min(2, target_index))
        conditions = [_condition(definitions[s], rng, options) for s in sources]
        services.rule_create(
            actor=admin,
            field=target,
            name=f"Rule {made}",
            match=rng.choice(["all", "any"]),
            conditions=conditions,
            actions=_actions(target, rng, options),
        )
        made += 1
    return admin


def _value_id(field, n: int) -> str:
    return f"value_{field.external_id.removeprefix('field_')}_{n}"


def _condition(source, rng, options) -> dict:
    if source.type in ("enum", "set"):
        value = _value_id(source, rng.randrange(options["list_values"]))
        return {"field": source.external_id, "op": "includes", "value": [value]}
    return {"field": source.external_id, "op": rng.choice(["empty", "populated"])}


def _actions(target, rng, options) -> list[dict]:
    # Never "mandatory": random ones would refuse most writes, which are what is timed.
    actions = [{"type": rng.choice(["show", "hide"])}, {"type": "optional"}]
    if target.type in ("enum", "set"):
        picks = [_value_id(target, rng.randrange(options["list_values"])) for _ in range(20)]
        actions.append({"type": rng.choice(["only_options", "add_options"]), "values": picks})
    return actions


def _random_values(schema, rng, options) -> dict:
    values = {}
    for f in schema.fields:
        if rng.random() < 0.5:
            continue
        if f.type == "enum":
            values[f.external_id] = rng.choice(f.options).external_id
        elif f.type == "set":
            values[f.external_id] = [o.external_id for o in rng.sample(f.options, 3)]
        elif f.type == "number":
            values[f.external_id] = rng.randrange(1000)
        elif f.type == "date":
            values[f.external_id] = f"2026-0{rng.randrange(1, 10)}-1{rng.randrange(10)}"
        else:
            values[f.external_id] = f"text {rng.randrange(1000)}"
    return values


def _sample(run, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return samples


def run(out, options: dict, db) -> None:
    from metadata import engine, forms, selectors, services

    say = out.write
    rng = random.Random(options["seed"])
    db.reset()
    db.migrate()
    say(
        f"Building {options['fields']} fields ({options['list_values']} values per list) "
        f"and {options['rules']} rules in {db.name}…"
    )
    started = time.perf_counter()
    build(options, rng)
    say(f"Built in {time.perf_counter() - started:.1f} s.")
    schema = selectors.schema_get()
    values = [_random_values(schema, rng, options) for _ in range(50)]
    repeat = options["repeat"]
    pick = iter(range(10**9))

    def one_values() -> dict:
        return values[next(pick) % len(values)]

    def resolve():
        current = one_values()
        changes = dict.fromkeys(list(current)[:3])
        with contextlib.suppress(services.ValidationFailed):  # a refusal is a full check too
            services.metadata_resolve(
                schema=schema, current=current, changes=changes, creating=False
            )

    def render():
        state = forms.form_state(schema, mode="upload", ctx="bench", base=one_values())
        render_to_string("metadata/_fields.html", {"md": state})

    rows = []
    for label, fn, n in (
        (
            "load the schema from PostgreSQL (3 queries)",
            selectors.schema_load,
            max(10, repeat // 10),
        ),
        ("schema already cached (1 query)", selectors.schema_get, repeat),
        ("evaluate all rules", lambda: engine.evaluate(schema, one_values()), repeat),
        ("write check of an edit", resolve, repeat),
        ("re-render the live form", render, max(10, repeat // 10)),
    ):
        samples = _sample(fn, n)
        rows.append(
            (label, f"{median(samples) * 1000:.2f}", f"{percentile(samples, 95) * 1000:.2f}")
        )
    lists = sum(1 for f in schema.fields if f.is_list)
    rule_count = sum(len(f.rules) for f in schema.fields)
    say(
        f"\n{len(schema)} fields ({lists} lists of {options['list_values']} values), "
        f"{rule_count} rules:\n"
    )
    say(markdown_table(["operation", "p50 ms", "p95 ms"], rows, numeric=(1, 2)))


register(
    Benchmark(
        name="metadata",
        help=(
            "Time the metadata rules engine, the write check and the live form on a large "
            "schema (fields, 3000-value lists, rules)."
        ),
        add_arguments=add_arguments,
        run=run,
        default_database="dam_bench_metadata",
    )
)
