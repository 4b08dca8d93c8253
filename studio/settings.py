"""Settings for the studio, configured only by environment variables.

Standard names where they exist (SECRET_KEY, DATABASE_URL, CELERY_BROKER_URL, ALLOWED_HOSTS),
the STUDIO_ prefix for the rest. `.env.example` lists every variable. With no variable set,
the studio runs on an embedded default under one data folder (STUDIO_HOME): SQLite and
kombu's filesystem broker, with the secret key and the vault's master key generated on first
start and kept there.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    raise ImproperlyConfigured(f"{name} must be 'true' or 'false', not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_secret(name: str, *, generate_into: Path | None = None, generator=None) -> str | None:
    """Read a secret from NAME, from the file named by NAME_FILE (Docker secrets), or from a
    file under STUDIO_HOME that is generated on first start (the embedded default)."""
    value = os.environ.get(name)
    if value:
        return value
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    if generate_into is None:
        return None
    if not generate_into.exists():
        generate_into.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(generate_into, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generator())
    return generate_into.read_text().strip()


DEBUG = env_bool("DEBUG", False)
STUDIO_HOME = Path(env_str("STUDIO_HOME", str(BASE_DIR / ".studio"))).resolve()
STUDIO_HOME.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env_secret(
    "SECRET_KEY",
    generate_into=STUDIO_HOME / "secret_key",
    generator=lambda: secrets.token_urlsafe(50),
)
# Wraps every workspace's own vault key (Fernet). Rotating it means re-wrapping those keys.
STUDIO_MASTER_KEY = env_secret(
    "STUDIO_MASTER_KEY",
    generate_into=STUDIO_HOME / "master_key",
    generator=lambda: Fernet.generate_key().decode(),
)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
# Job containers call the studio (MLflow tracking, logs) as `studio-host`, Docker's
# host-gateway (docs/runner.md): that name is always accepted.
if "*" not in ALLOWED_HOSTS and "studio-host" not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append("studio-host")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "axes",
    "apps.workspaces",
    "apps.assets",
    "apps.jobs",
    "apps.designer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "studio.errors.DomainErrorMiddleware",
    # Last, as django-axes asks: it turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "studio.urls"
WSGI_APPLICATION = "studio.wsgi.application"

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
                "apps.workspaces.context_processors.studio",
            ],
            "builtins": [
                "template_partials.templatetags.partials",
                "apps.workspaces.templatetags.studio_tags",
            ],
        },
    }
]

_default_db = f"sqlite:///{STUDIO_HOME / 'studio.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(env_str("DATABASE_URL", _default_db), conn_max_age=60)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time: the web server, the worker and beat share the file. WAL lets
    # readers go on while one writes; IMMEDIATE takes the write lock up front, so two
    # writers queue on the busy timeout instead of failing with "database is locked".
    # Connections are kept (conn_max_age above): reopening one per request costs a WAL
    # checkpoint and made MLflow logging ~25% slower (benchmarks/mlflow_logging.py).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): five failures for one username from one address lock that
# pair out for a quarter of an hour.
AXES_FAILURE_LIMIT = env_int("STUDIO_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("STUDIO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = STUDIO_HOME / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# plotly.js comes from a package, never from a CDN: plotly/plotly.min.js is npm's cartesian
# bundle when scripts/setup.sh installed it, else the plotly Python package's full bundle
# (studio/staticfinders.py).
STATICFILES_FINDERS = [
    "studio.staticfinders.PlotlyFinder",
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
]
# scripts/setup.sh (so `make run` and `make test`) runs collectstatic into STATIC_ROOT: every
# file under a name with a hash of its content, with a gzip copy. Pages then link those names
# and WhiteNoise serves them with far-future cache headers (a year, immutable): a browser
# asks for plotly.js once per version, not once a minute. Until collectstatic has run, or
# once a file under static/ is newer than its manifest (someone edited it), or under pytest
# (the live server of browser tests serves from the finders, by plain names), pages link
# plain names, served from the finders and cached for a minute: nothing to run by hand.
STATIC_MANIFEST = STATIC_ROOT / "staticfiles.json"


def static_collected() -> bool:
    """True when collectstatic has run since the last change of a file under static/."""
    if not STATIC_MANIFEST.exists():
        return False
    collected = STATIC_MANIFEST.stat().st_mtime
    return all(
        path.stat().st_mtime <= collected
        for path in (BASE_DIR / "static").rglob("*")
        if path.is_file()
    )


STATIC_HASHED = "PYTEST_VERSION" not in os.environ and (
    sys.argv[1:2] == ["collectstatic"] or static_collected()
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_HASHED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_HASHED
WHITENOISE_AUTOREFRESH = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.workspaces.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "studio.api.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "studio.errors.api_exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Studio API",
    "DESCRIPTION": "REST API of the self-hosted machine-learning studio.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

# Celery. The embedded default is kombu's filesystem transport under STUDIO_HOME (no broker
# server); CELERY_BROKER_URL=redis://... switches to Redis with no code change.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
_broker_dir = STUDIO_HOME / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600 * 6}
CELERY_TASK_DEFAULT_QUEUE = "studio"
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# Jobs and environments.
# The image environments build on, and jobs without an environment run in. On a machine with
# no registry, scripts/base-image.sh builds it from Debian's packages.
STUDIO_BASE_IMAGE = env_str("STUDIO_BASE_IMAGE", "studio-base:bookworm-py311-r2")
# An extra CA bundle for image builds and job containers (a proxy that intercepts HTTPS, a
# corporate CA): mounted read-only and named by PIP_CERT/REQUESTS_CA_BUNDLE. Defaults to the
# host's own trust store; empty turns it off.
_host_bundle = "/etc/ssl/certs/ca-certificates.crt"
STUDIO_BUILD_CA_BUNDLE = env_str(
    "STUDIO_BUILD_CA_BUNDLE", _host_bundle if Path(_host_bundle).is_file() else ""
)
# An environment image build running longer than this many seconds is stopped and fails with
# "build timed out after N s" (a step that hangs would hold the build lock of its spec and the
# jobs waiting for the image). 0 turns the limit off.
STUDIO_BUILD_TIMEOUT_SECONDS = env_int("STUDIO_BUILD_TIMEOUT_SECONDS", 3600)
# The URL job containers reach the studio at (MLFLOW_TRACKING_URI is built on it). A container
# on Docker's bridge sees the host at the bridge gateway, not at 127.0.0.1; on several
# machines, this is the studio's public URL. Empty: derived from the Docker bridge gateway and
# STUDIO_PORT by the runner.
STUDIO_JOB_STUDIO_URL = env_str("STUDIO_JOB_STUDIO_URL", "")
# A job whose compute is full looks again this often (seconds). A safety net: a job that
# frees a node sends the task of the head of the queue at once.
STUDIO_QUEUE_RETRY_SECONDS = env_int("STUDIO_QUEUE_RETRY_SECONDS", 2)
# Largest code folder a job or component may snapshot (bytes of files).
STUDIO_CODE_MAX_BYTES = env_int("STUDIO_CODE_MAX_BYTES", 100 * 2**20)
# How jobs run: "docker" (containers, the default) or "local" (plain processes, for machines
# without Docker); the `local` compute always runs locally. The instance name labels the
# containers this studio owns (two studios can share an engine).
STUDIO_EXECUTOR = env_str("STUDIO_EXECUTOR", "docker")
STUDIO_EXECUTOR_INSTANCE = env_str("STUDIO_EXECUTOR_INSTANCE", "studio")
# Where runners keep jobs' working folders (code, inputs, outputs); job containers run as uid
# 1000, which must be able to traverse it. Default: STUDIO_HOME/jobs.
STUDIO_JOB_DIR = env_str("STUDIO_JOB_DIR", "")
# The python the `local` compute runs jobs with (default: /usr/bin/python3).
STUDIO_LOCAL_PYTHON = env_str("STUDIO_LOCAL_PYTHON", "")
# Largest file profiled by a worker, and largest model upload (bytes).
STUDIO_DATA_PROFILE_MAX_BYTES = env_int("STUDIO_DATA_PROFILE_MAX_BYTES", 2 * 2**30)
STUDIO_MODEL_MAX_BYTES = env_int("STUDIO_MODEL_MAX_BYTES", 50 * 2**30)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "studio",
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("STUDIO_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

if not DEBUG and not SECRET_KEY:  # pragma: no cover - env_secret always yields one
    raise ImproperlyConfigured("SECRET_KEY is required")
