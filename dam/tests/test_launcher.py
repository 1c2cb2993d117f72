"""Pure helpers of dam.launcher; nothing here starts a server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dam import launcher


def test_tcp_database_url_becomes_connect_kwargs() -> None:
    dbname, kwargs = launcher.postgres_connect_kwargs(
        "postgres://app:p%40ss@db.example:6543/dam?sslmode=require&conn_max_age=60"
    )
    assert dbname == "dam"
    assert kwargs == {
        "host": "db.example",
        "port": "6543",
        "user": "app",
        "password": "p@ss",
        "sslmode": "require",  # libpq option kept, Django-only option dropped
    }


def test_pgserver_socket_uri_keeps_socket_dir_as_host() -> None:
    dbname, kwargs = launcher.postgres_connect_kwargs(
        "postgresql://postgres:@/dam?host=/srv/app/var/pgdata"
    )
    assert dbname == "dam"
    assert kwargs == {"host": "/srv/app/var/pgdata", "user": "postgres"}


def test_non_postgres_database_url_is_rejected() -> None:
    with pytest.raises(launcher.LauncherError, match="postgres"):
        launcher.postgres_connect_kwargs("sqlite:///db.sqlite3")


def test_redis_socket_lives_under_var_when_short(tmp_path: Path) -> None:
    expected = tmp_path.resolve() / "var" / "redis" / "redis.sock"
    if len(str(expected)) > launcher.SOCKET_PATH_LIMIT:
        pytest.skip("temp dir too long for this check")
    assert launcher.redis_socket_path(tmp_path / "var") == expected


def test_redis_socket_falls_back_to_short_temp_dir(tmp_path: Path) -> None:
    var = tmp_path / ("x" * 120) / "var"
    path = launcher.redis_socket_path(var)
    assert len(str(path)) <= launcher.SOCKET_PATH_LIMIT
    assert path.name == "redis.sock"
    assert path == launcher.redis_socket_path(var)  # stable for the same checkout
    assert path != launcher.redis_socket_path(tmp_path / ("y" * 120) / "var")


def test_redis_url_is_unix_scheme() -> None:
    assert launcher.redis_url_for_socket(Path("/r/redis.sock")) == "unix:///r/redis.sock?db=0"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, 8000), ({"PORT": ""}, 8000), ({"PORT": " 8765 "}, 8765)],
)
def test_port_from_env(environ: dict[str, str], expected: int) -> None:
    assert launcher.port_from_env(environ) == expected


@pytest.mark.parametrize("value", ["http", "0", "70000"])
def test_bad_port_is_a_clear_error(value: str) -> None:
    with pytest.raises(launcher.LauncherError, match="PORT"):
        launcher.port_from_env({"PORT": value})


def test_service_commands_use_given_python_and_port() -> None:
    commands = dict(launcher.service_commands("/py", 8765))
    web = commands["web (gunicorn)"]
    assert web[:4] == ["/py", "-m", "gunicorn", "dam.wsgi:application"]
    assert "127.0.0.1:8765" in web
    assert commands["celery worker"][:6] == [
        "/py",
        "-m",
        "celery",
        "-A",
        "dam",
        "worker",
    ]
    beat = commands["celery beat"]
    assert beat[beat.index("--schedule") + 1] == "var/celerybeat-schedule"


def test_banner_shows_url_logins_and_how_to_stop() -> None:
    text = launcher.banner("http://127.0.0.1:8000/", "\nadmin / secret\n\n")
    assert "http://127.0.0.1:8000/" in text
    assert "  admin / secret" in text
    assert "Ctrl-C" in text


def test_pid_alive_tells_running_from_finished() -> None:
    assert launcher._pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not launcher._pid_alive(child.pid)
