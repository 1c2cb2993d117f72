"""Settings come only from environment variables (see README "Configuration")."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

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

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("DAM_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    """Production sets SECRET_KEY; a development machine gets one kept under var/."""
    key = env_str("SECRET_KEY")
    if key:
        if len(key) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long.")
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "guardian",
    "axes",
    "ninja",
    "dam",
    "accounts",
    "assets",
    "metadata",
    "moderation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "dam.middleware.UploadLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dam.middleware.RequestContextMiddleware",
    "dam.middleware.ApiErrorShapeMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dam.urls"
WSGI_APPLICATION = "dam.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dam.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": database_config(env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dam"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL, CELERY_BROKER_URL = redis_urls(env_str("REDIS_URL", "redis://127.0.0.1:6379/0"))
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("DAM_CACHE_PREFIX", "dam"),
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out email+IP pairs first
    "accounts.backends.EmailBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no "AnonymousUser" row (it would take a seat)
# Our email is unique among non-inactive users only (a deleted user's email may be reused);
# the manager's get_by_natural_key honours that, so the uniqueness check does not apply.
SILENCED_SYSTEM_CHECKS = ["auth.E003", "auth.W004"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Invitation and reset links (set-password tokens) expire after DAM_INVITE_DAYS.
DAM_INVITE_DAYS = env_int("DAM_INVITE_DAYS", 7, minimum=1)
PASSWORD_RESET_TIMEOUT = DAM_INVITE_DAYS * 24 * 3600
# Links in emails sent outside a request (the API and pages pass their own host).
DAM_BASE_URL = env_str("DAM_BASE_URL", "http://localhost:8000")

# Brute-force protection: AXES_FAILURE_LIMIT failed log-ins for one email from one address
# lock that pair for AXES_COOLOFF_MINUTES (a friendly page, HTTP 429).
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "dam.middleware.request_ip"  # the client, not the proxy
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.backends.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_VERBOSE = False

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"  # which sends each role to its start page
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it before collectstatic

# Files: local disk by default, S3 with DAM_STORAGE=s3 and the usual AWS_* variables.
DAM_STORAGE = env_choice("DAM_STORAGE", "local", ("local", "s3"))
MEDIA_ROOT = Path(env_str("DAM_MEDIA_ROOT", str(VAR_DIR / "media")))
if DAM_STORAGE == "s3":
    AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
    if not AWS_STORAGE_BUCKET_NAME:
        raise ImproperlyConfigured("DAM_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME") or None
    AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
    AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID") or None
    AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY") or None
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = True
    AWS_S3_FILE_OVERWRITE = False
    # Read objects through a temporary file past 2 MiB (the default, 0, keeps them in memory).
    AWS_S3_MAX_MEMORY_SIZE = 2 * 1024 * 1024
    _media_storage = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    _media_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": None},
    }
STORAGES = {
    "default": _media_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads stream to temporary files above this size; the app never holds a whole file.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DAM_MAX_UPLOAD_BYTES = env_int("DAM_MAX_UPLOAD_BYTES", 2 * 1024**3, minimum=1)
DAM_MAX_IMAGE_PIXELS = env_int("DAM_MAX_IMAGE_PIXELS", 100_000_000, minimum=1)
# Search counts matches exactly up to this many ("more than 1,000" past it; best match
# ranks at most this many) and facets count at most DAM_SEARCH_FACET_SAMPLE of them.
# Higher numbers cost time at a million assets.
DAM_SEARCH_COUNT_LIMIT = env_int("DAM_SEARCH_COUNT_LIMIT", 1_000, minimum=10)
DAM_SEARCH_FACET_SAMPLE = env_int("DAM_SEARCH_FACET_SAMPLE", 1_000, minimum=10)
# Each statement of a search stops after this many milliseconds (the user is asked to
# narrow it): searches never hold a worker or a connection for long.
DAM_SEARCH_TIMEOUT_MS = env_int("DAM_SEARCH_TIMEOUT_MS", 10_000, minimum=100)
# Resumable uploads spool here chunk by chunk (a volume every web process shares).
# Delivery (/d/...): in production the web server sends the bytes after the app's check.
# With DAM_DELIVERY_ACCEL_PREFIX (e.g. /protected/, an nginx `internal` location aliased to
# the media root) responses carry X-Accel-Redirect; with S3 storage they redirect to a
# presigned URL that lasts a minute.
DAM_DELIVERY_ACCEL_PREFIX = env_str("DAM_DELIVERY_ACCEL_PREFIX", "")
DAM_UPLOAD_SPOOL = Path(env_str("DAM_UPLOAD_SPOOL", str(VAR_DIR / "uploads")))

# Email: EMAIL_URL such as smtp+tls://user:pass@host:587; console in development.
_email = email_config(env_str("EMAIL_URL", "consolemail://"))
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
if _email.get("EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "DAM <dam@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Behind a TLS-terminating proxy in production: HTTPS=true.
HTTPS = env_bool("HTTPS", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
# How many reverse proxies in front of the app append to X-Forwarded-For (audit IPs).
DAM_TRUSTED_PROXIES = env_int("DAM_TRUSTED_PROXIES", 0, minimum=0)
CSRF_FAILURE_VIEW = "dam.views.csrf_failure"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

CELERY_TASK_DEFAULT_QUEUE = env_str("DAM_CELERY_QUEUE", "dam")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE: dict = {}
CELERY_TIMEZONE = TIME_ZONE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice(
            "LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")
        ).upper(),
    },
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # it logs every successful log-in at INFO
    },
}
