"""The typed environment parsers, and settings start-up with real and bad values."""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from dam.env import (
    database_config,
    email_config,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    redis_urls,
)

REPO = Path(__file__).resolve().parents[2]


# -- strings and lists ----------------------------------------------------------------
def test_env_str_default_when_unset_or_blank(monkeypatch):
    monkeypatch.delenv("DAM_TEST_STR", raising=False)
    assert env_str("DAM_TEST_STR", "fallback") == "fallback"
    monkeypatch.setenv("DAM_TEST_STR", "   ")
    assert env_str("DAM_TEST_STR", "fallback") == "fallback"
    monkeypatch.setenv("DAM_TEST_STR", "  value  ")
    assert env_str("DAM_TEST_STR", "fallback") == "value"


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.delenv("DAM_TEST_LIST", raising=False)
    assert env_list("DAM_TEST_LIST", ["a"]) == ["a"]
    monkeypatch.setenv("DAM_TEST_LIST", " dam.example.com, ,cdn.example.com ,")
    assert env_list("DAM_TEST_LIST", ["a"]) == ["dam.example.com", "cdn.example.com"]


# -- booleans -------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "Yes", "on", " true "])
def test_env_bool_true_spellings(monkeypatch, raw):
    monkeypatch.setenv("DAM_TEST_BOOL", raw)
    assert env_bool("DAM_TEST_BOOL", False) is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "off", ""])
def test_env_bool_false_spellings(monkeypatch, raw):
    monkeypatch.setenv("DAM_TEST_BOOL", raw)
    assert env_bool("DAM_TEST_BOOL", True) is False


def test_env_bool_default_when_unset(monkeypatch):
    monkeypatch.delenv("DAM_TEST_BOOL", raising=False)
    assert env_bool("DAM_TEST_BOOL", True) is True
    assert env_bool("DAM_TEST_BOOL", False) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "yes please", "tru"])
def test_env_bool_rejects_anything_else_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("DAM_TEST_BOOL", raw)
    with pytest.raises(ImproperlyConfigured) as info:
        env_bool("DAM_TEST_BOOL", False)
    message = str(info.value)
    assert "DAM_TEST_BOOL" in message
    assert raw.strip() in message
    assert "true or false" in message


# -- integers -------------------------------------------------------------------------
def test_env_int_parses_and_defaults(monkeypatch):
    monkeypatch.delenv("DAM_TEST_INT", raising=False)
    assert env_int("DAM_TEST_INT", 7) == 7
    monkeypatch.setenv("DAM_TEST_INT", "")
    assert env_int("DAM_TEST_INT", 7) == 7
    monkeypatch.setenv("DAM_TEST_INT", " 42 ")
    assert env_int("DAM_TEST_INT", 7) == 42


@pytest.mark.parametrize("raw", ["lots", "1.5", "10MB", "0x10"])
def test_env_int_rejects_non_integers(monkeypatch, raw):
    monkeypatch.setenv("DAM_TEST_INT", raw)
    with pytest.raises(ImproperlyConfigured, match=r"DAM_TEST_INT=.* is not an integer"):
        env_int("DAM_TEST_INT", 7)


def test_env_int_enforces_minimum(monkeypatch):
    monkeypatch.setenv("DAM_TEST_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="DAM_TEST_INT=0 must be at least 1"):
        env_int("DAM_TEST_INT", 7, minimum=1)
    monkeypatch.setenv("DAM_TEST_INT", "1")
    assert env_int("DAM_TEST_INT", 7, minimum=1) == 1


# -- choices --------------------------------------------------------------------------
def test_env_choice_accepts_known_values_case_insensitively(monkeypatch):
    monkeypatch.delenv("DAM_TEST_CHOICE", raising=False)
    assert env_choice("DAM_TEST_CHOICE", "local", ("local", "s3")) == "local"
    monkeypatch.setenv("DAM_TEST_CHOICE", "S3")
    assert env_choice("DAM_TEST_CHOICE", "local", ("local", "s3")) == "s3"


def test_env_choice_rejects_unknown_values_listing_the_choices(monkeypatch):
    monkeypatch.setenv("DAM_TEST_CHOICE", "ftp")
    with pytest.raises(ImproperlyConfigured) as info:
        env_choice("DAM_TEST_CHOICE", "local", ("local", "s3"))
    message = str(info.value)
    assert "DAM_TEST_CHOICE" in message
    assert "'ftp'" in message
    assert "local, s3" in message


# -- DATABASE_URL ---------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "pgsql"])
def test_database_url_postgres_schemes(monkeypatch, scheme):
    monkeypatch.delenv("DATABASE_CONN_MAX_AGE", raising=False)
    config = database_config(f"{scheme}://app:secret@db.example:6543/dam")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["NAME"] == "dam"
    assert config["USER"] == "app"
    assert config["PASSWORD"] == "secret"
    assert config["HOST"] == "db.example"
    assert int(config["PORT"]) == 6543
    assert config["CONN_MAX_AGE"] == 60
    assert config["CONN_HEALTH_CHECKS"] is True


def test_database_url_conn_max_age_from_env(monkeypatch):
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "0")
    assert database_config("postgres://db/dam")["CONN_MAX_AGE"] == 0
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "forever")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_CONN_MAX_AGE"):
        database_config("postgres://db/dam")


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("sqlite:///db.sqlite3", "sqlite"),
        ("mysql://root@localhost/dam", "mysql"),
        ("dam", ""),
    ],
)
def test_database_url_other_schemes_are_refused(url, scheme):
    with pytest.raises(ImproperlyConfigured) as info:
        database_config(url)
    message = str(info.value)
    assert "DATABASE_URL must be a postgres:// URL" in message
    assert repr(scheme) in message


def test_database_url_must_name_a_database():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL must name a database"):
        database_config("postgres://postgres@127.0.0.1:5432/")


# -- REDIS_URL ------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://:pw@cache.example:6380/2"])
def test_redis_url_tcp_is_used_as_is_for_both(url):
    assert redis_urls(url) == (url, url)


def test_redis_unix_socket_becomes_redis_socket_for_celery():
    url = "unix:///srv/dam/var/redis/redis.sock?db=0"
    redis_url, broker_url = redis_urls(url)
    assert redis_url == url  # redis-py understands unix:// itself
    assert broker_url == "redis+socket:///srv/dam/var/redis/redis.sock?db=0"


def test_redis_unix_socket_without_query():
    assert redis_urls("unix:///tmp/r.sock")[1] == "redis+socket:///tmp/r.sock"


@pytest.mark.parametrize(
    ("url", "scheme"),
    [("memcached://127.0.0.1:11211", "memcached"), ("127.0.0.1:6379", "")],
)
def test_redis_url_other_schemes_are_refused(url, scheme):
    with pytest.raises(ImproperlyConfigured) as info:
        redis_urls(url)
    message = str(info.value)
    assert "REDIS_URL must be redis://, rediss:// or unix://" in message
    assert repr(scheme) in message


# -- EMAIL_URL ------------------------------------------------------------------------
def test_email_url_smtp_tls():
    config = email_config("smtp+tls://mailer:pw@mail.example.com:587")
    assert config["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert config["EMAIL_HOST"] == "mail.example.com"
    assert config["EMAIL_PORT"] == 587
    assert config["EMAIL_HOST_USER"] == "mailer"
    assert config["EMAIL_HOST_PASSWORD"] == "pw"
    assert config["EMAIL_USE_TLS"] is True


def test_email_url_console_default():
    assert email_config("consolemail://")["EMAIL_BACKEND"] == (
        "django.core.mail.backends.console.EmailBackend"
    )


def test_email_url_unknown_scheme_is_refused_listing_known_ones():
    with pytest.raises(ImproperlyConfigured) as info:
        email_config("sendgrid://key@api")
    message = str(info.value)
    assert "EMAIL_URL scheme 'sendgrid' is unknown" in message
    assert "smtp+tls" in message
    assert "consolemail" in message


# -- the real settings module in a subprocess -----------------------------------------
def _manage(args: list[str], **overrides: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        # Start from a clean slate for everything the settings read.
        if key
        not in {
            "DEBUG",
            "SECRET_KEY",
            "HTTPS",
            "ALLOWED_HOSTS",
            "SECURE_HSTS_SECONDS",
            "DAM_STORAGE",
            "EMAIL_URL",
            # pytest-django sets this for the test process; production never does.
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env["DJANGO_SETTINGS_MODULE"] = "dam.settings"
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _production_env() -> dict[str, str]:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(50)),
        "HTTPS": "true",
        "ALLOWED_HOSTS": "dam.example.com",
    }
    for name in ("DATABASE_URL", "REDIS_URL"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def test_deploy_check_passes_with_production_values():
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], **_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_fails_without_https():
    """The deploy check is a real gate: plain HTTP in production is reported."""
    env = {**_production_env(), "HTTPS": "false"}
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], **env)
    assert result.returncode != 0
    assert "security.W" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("HTTPS", "sometimes"),
        ("DAM_MAX_UPLOAD_BYTES", "lots"),
        ("DAM_STORAGE", "ftp"),
        ("DATABASE_URL", "sqlite:///db.sqlite3"),
        ("REDIS_URL", "memcached://127.0.0.1:11211"),
        ("EMAIL_URL", "sendgrid://key@api"),
        ("SECRET_KEY", "short"),
        ("LOG_LEVEL", "loud"),
    ],
)
def test_bad_value_stops_manage_py_naming_the_variable(name, value):
    result = _manage(["check"], **{**_production_env(), name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr
