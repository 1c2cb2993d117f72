"""Shared fixtures. Unit tests run Celery eagerly; pipeline tests start a real worker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import override_settings

from dam.celery import app as celery_app

ROOT = Path(__file__).resolve().parent

pytest_plugins = ["dam.pytest_browser"]


@pytest.fixture(scope="session")
def media_root():
    path = Path(tempfile.mkdtemp(prefix="dam-test-media-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _test_storage(media_root):
    storages = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media_root), "base_url": None},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(
        STORAGES=storages,
        MEDIA_ROOT=str(media_root),
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    ):
        yield


@pytest.fixture(autouse=True)
def _eager_celery():
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = True


def _database_url() -> str:
    cfg = connection.settings_dict
    user = quote(cfg.get("USER") or "", safe="")
    password = quote(cfg.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    socket_dir = (cfg.get("OPTIONS") or {}).get("host")
    if socket_dir:
        return f"postgresql://{auth}/{cfg['NAME']}?host={quote(socket_dir, safe='/')}"
    port = f":{cfg['PORT']}" if cfg.get("PORT") else ""
    return f"postgresql://{auth}{cfg.get('HOST') or '127.0.0.1'}{port}/{cfg['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, media_root):
    """A real `celery worker` process on its own queue, reading the test database."""
    queue = f"dam-test-{uuid.uuid4().hex[:10]}"
    with django_db_blocker.unblock():
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "DAM_MEDIA_ROOT": str(media_root),
            "DAM_CELERY_QUEUE": queue,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "DATABASE_CONN_MAX_AGE": "0",
        }
    log_path = Path(tempfile.gettempdir()) / f"{queue}.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dam",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            "2",
            "--pool",
            "prefork",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log_path.read_text()}")
        if "ready." in log_path.read_text():
            break
        time.sleep(0.2)
    else:
        proc.terminate()
        raise RuntimeError(f"celery worker did not start:\n{log_path.read_text()}")
    yield {"queue": queue, "log": log_path, "process": proc}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def real_worker(celery_worker_process, transactional_db):
    """Send tasks to the real worker (not eagerly) for the duration of a test."""
    celery_app.conf.task_always_eager = False
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = celery_worker_process["queue"]
    yield celery_worker_process
    celery_app.conf.task_default_queue = previous
    celery_app.conf.task_always_eager = True
