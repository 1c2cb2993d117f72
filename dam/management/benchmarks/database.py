"""The bench database: created beside the normal one, never the normal one.

The parent process (the `bench` command as typed) only creates, checks or drops the
bench database with plain psycopg and then re-runs the command in a child process whose
DATABASE_URL names the bench database. Everything Django does in the child (migrate, the
ORM, the test client) therefore talks to the bench database through the ordinary
`default` connection, and nothing in the child knows the normal database.

A database counts as a bench database only if it carries the `dam_bench_info` table
(created here right after CREATE DATABASE). Reusing, rebuilding or dropping anything else
is refused, so a mistyped --database-url cannot wipe real data.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode, urlunsplit

import psycopg
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from psycopg import sql

from dam.env import database_config

CHILD_ENV = "DAM_BENCH_CHILD"
MARKER = "dam_bench_info"
# Connection keywords that libpq understands (Django's OPTIONS may carry others).
_LIBPQ_KEYS = {
    "host",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslpassword",
    "connect_timeout",
    "application_name",
    "options",
    "target_session_attrs",
    "passfile",
    "service",
}
_RESERVED = {"postgres", "template0", "template1"}


@dataclass(frozen=True)
class Target:
    """Where the bench data lives: a URL for the child, psycopg keywords for the parent."""

    url: str
    name: str
    connect: dict

    @property
    def where(self) -> str:
        host = self.connect.get("host") or "local socket"
        port = self.connect.get("port")
        return f"{self.name} on {host}{':' + str(port) if port else ''}"


def url_for(config: dict, name: str) -> str:
    """A DATABASE_URL for database `name` on the server described by a Django config."""
    user = quote(config.get("USER") or "", safe="")
    password = quote(config.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = str(config.get("HOST") or "")
    query = {
        key: str(value)
        for key, value in (config.get("OPTIONS") or {}).items()
        if key in _LIBPQ_KEYS and isinstance(value, str | int)
    }
    if host.startswith("/"):  # a unix-socket directory
        query["host"], host = host, ""
    port = f":{config['PORT']}" if config.get("PORT") else ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    netloc = f"{auth}{host}{port}" if host else auth
    return urlunsplit(("postgresql", netloc, "/" + quote(name, safe=""), urlencode(query), ""))


def _connect_kwargs(config: dict) -> dict:
    kwargs = {
        key: value
        for key, value in (config.get("OPTIONS") or {}).items()
        if key in _LIBPQ_KEYS and value not in (None, "")
    }
    for key, setting in (("host", "HOST"), ("port", "PORT"), ("user", "USER")):
        if config.get(setting):
            kwargs[key] = str(config[setting])
    if config.get("PASSWORD"):
        kwargs["password"] = config["PASSWORD"]
    return kwargs


def resolve(database_url: str | None, default_name: str) -> Target:
    """The bench target: --database-url, or `default_name` on the normal server."""
    current = settings.DATABASES["default"]
    if database_url:
        try:
            config = database_config(database_url)
        except ImproperlyConfigured as exc:
            raise CommandError(f"--database-url: {exc}") from None
        url = database_url
    else:
        config = {**current, "NAME": default_name}
        url = url_for(current, default_name)
    name = config["NAME"]
    if name == current["NAME"]:
        raise CommandError(
            f"The bench database may not be the application's database ({name!r}); "
            "pass a --database-url naming another database."
        )
    if name in _RESERVED:
        raise CommandError(f"Refusing to use the system database {name!r} for benchmarks.")
    return Target(url=url, name=name, connect=_connect_kwargs(config))


@contextlib.contextmanager
def _server(target: Target):
    """An autocommit connection to the server's maintenance database."""
    errors = []
    for dbname in ("postgres", "template1"):
        try:
            conn = psycopg.connect(dbname=dbname, autocommit=True, **target.connect)
        except psycopg.OperationalError as exc:
            errors.append(str(exc).strip())
            continue
        with conn:
            yield conn
        return
    raise CommandError(f"Cannot connect to the PostgreSQL server of {target.where}: {errors[-1]}")


def _exists(conn, name: str) -> bool:
    return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone())


def _kind(target: Target) -> str:
    """ "bench" (has the marker table), "empty" (no tables at all) or "foreign"."""
    with psycopg.connect(dbname=target.name, autocommit=True, **target.connect) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            )
        }
    if MARKER in tables:
        return "bench"
    return "foreign" if tables else "empty"


def _drop(conn, name: str) -> None:
    force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}{}").format(sql.Identifier(name), force))


def _refuse_foreign(target: Target) -> None:
    raise CommandError(
        f"Database {target.where} exists and is not a bench database (it has tables but no "
        f"{MARKER} table). Choose another name with --database-url, or drop it yourself."
    )


def prepare(target: Target, *, fresh: bool, say) -> None:
    """Create the bench database (or recreate it with `fresh`) and its marker table."""
    with _server(target) as conn:
        exists = _exists(conn, target.name)
        if exists and _kind(target) == "foreign":
            _refuse_foreign(target)
        if exists and fresh:
            _drop(conn, target.name)
            say(f"Dropped database {target.where} (--fresh).")
            exists = False
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.name)))
            say(f"Created database {target.where}.")
    with psycopg.connect(dbname=target.name, autocommit=True, **target.connect) as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (id smallint PRIMARY KEY CHECK (id = 1),"
                " signature jsonb NOT NULL, info jsonb NOT NULL,"
                " built_at timestamptz NOT NULL DEFAULT now())"
            ).format(sql.Identifier(MARKER))
        )


def drop(target: Target, *, say) -> None:
    with _server(target) as conn:
        if not _exists(conn, target.name):
            return
        if _kind(target) == "foreign":
            _refuse_foreign(target)
        _drop(conn, target.name)
    say(f"Dropped database {target.where}.")


def run_child(target: Target, benchmark: str, options: dict, write) -> None:
    """Re-run `bench <benchmark>` with DATABASE_URL naming the bench database."""
    spec = json.dumps({"benchmark": benchmark, "database": target.name, "options": options})
    env = {
        **os.environ,
        "DATABASE_URL": target.url,
        CHILD_ENV: spec,
        "DAM_CACHE_PREFIX": f"dam-bench-{target.name}",
        "DEBUG": "false",
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("DJANGO_SETTINGS_MODULE", "dam.settings")
    base = Path(settings.BASE_DIR)
    command = [sys.executable, str(base / "manage.py"), "bench", benchmark]
    proc = subprocess.Popen(command, cwd=base, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            write(line.rstrip("\n"))
        code = proc.wait()
    except BaseException:
        proc.terminate()
        proc.wait()
        raise
    if code:
        raise CommandError(f"bench {benchmark} failed (exit status {code}); see the error above.")


class BenchDatabase:
    """The child's handle on its bench database (Django's default connection)."""

    def __init__(self, expected_name: str) -> None:
        actual = connection.settings_dict["NAME"]
        if actual != expected_name:
            raise CommandError(f"bench child is connected to {actual!r}, not {expected_name!r}.")
        if MARKER not in connection.introspection.table_names():
            raise CommandError(f"{actual!r} has no {MARKER} table: not a bench database.")
        self.name = actual

    def built(self, signature: dict) -> dict | None:
        """The info recorded by the build of this exact data set, or None."""
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("SELECT signature, info, built_at FROM {}").format(sql.Identifier(MARKER))
            )
            row = cursor.fetchone()
        if row is None or _json(row[0]) != signature:
            return None
        return {**_json(row[1]), "built_at": row[2].isoformat(timespec="seconds")}

    def reset(self) -> None:
        """Forget the data set: drop every table but the marker (migrate starts over)."""
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(MARKER)))
            cursor.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename <> %s",
                [MARKER],
            )
            tables = [row[0] for row in cursor.fetchall()]
            if tables:
                cursor.execute(
                    sql.SQL("DROP TABLE {} CASCADE").format(
                        sql.SQL(", ").join(map(sql.Identifier, tables))
                    )
                )

    def migrate(self) -> None:
        call_command("migrate", verbosity=0, interactive=False)

    def mark_built(self, signature: dict, info: dict) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(MARKER)))
            cursor.execute(
                sql.SQL("INSERT INTO {} (id, signature, info) VALUES (1, %s, %s)").format(
                    sql.Identifier(MARKER)
                ),
                [json.dumps(signature), json.dumps(info)],
            )


def _json(value):
    return json.loads(value) if isinstance(value, str | bytes) else value
