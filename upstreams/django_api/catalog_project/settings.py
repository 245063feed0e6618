"""Settings for the catalog service.

Configuration comes from the environment and is read exactly once, when this module is
imported. Every variable is read through one of the small ``_env*`` helpers below.

Environment variables:

``CATALOG_DB_PATH``
    Path of the SQLite database file (default: ``upstreams/django_api/db.sqlite3``).
``DJANGO_SECRET_KEY``
    Secret key. The default is only suitable for local development.
``DJANGO_DEBUG``
    ``1``/``true``/``yes``/``on`` to enable debug mode (default: off).
``DJANGO_ALLOWED_HOSTS``
    Comma-separated host names (default: ``127.0.0.1,localhost``).
``UPSTREAM_TEST_ENDPOINTS``
    Set to ``0`` to remove the ``/catalog/_test/`` endpoints (default: enabled).
``LOG_SERVICE`` / ``LOG_ENVIRONMENT``
    ``service``/``environment`` of every log record (default: ``catalog``/``development``).
    The other ``LOG_*`` variables (level, CloudWatch shipping) are read by ``logship``.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from logship.django import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
_FALSE_VALUES = frozenset({"0", "false", "no", "off", ""})


def _env(name: str, default: str) -> str:
    """Return the environment variable ``name`` or ``default`` when it is unset."""
    return os.environ.get(name, default)


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE_VALUES:
        return True
    if value in _FALSE_VALUES:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in _env(name, default).split(",") if part.strip()]


SECRET_KEY = _env("DJANGO_SECRET_KEY", "dev-only-catalog-secret-key-do-not-use-in-production")
DEBUG = _env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")

# Exposes the diagnostic endpoints under /catalog/_test/ used by the BFF proxy tests.
CATALOG_TEST_ENDPOINTS = _env_bool("UPSTREAM_TEST_ENDPOINTS", True)

INSTALLED_APPS = ["catalog.apps.CatalogConfig"]

MIDDLEWARE = [
    "catalog.middleware.RequestIdMiddleware",
    "catalog.middleware.AllowedHostsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "catalog.middleware.ContentLengthMiddleware",
]

# `check --deploy` findings that do not apply to an internal JSON API served over plain HTTP
# on loopback behind the BFF: no HTML (clickjacking), no cookie auth (CSRF), no TLS here.
SILENCED_SYSTEM_CHECKS = ["security.W002", "security.W003", "security.W004", "security.W008"]

ROOT_URLCONF = "catalog_project.urls"
WSGI_APPLICATION = "catalog_project.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _env("CATALOG_DB_PATH", str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": {
            # Several gunicorn threads/processes share the file: wait for locks instead of
            # failing immediately, take the write lock up front and let readers run
            # concurrently with a writer.
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A JSON API: no trailing-slash redirects, no templates, sessions or CSRF cookies.
APPEND_SLASH = False
USE_I18N = False
USE_TZ = True
TIME_ZONE = "UTC"

# Request bodies for POST /catalog/items are tiny; the echo endpoint applies its own limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# Logging: every record is one JSON object on stdout and, when LOG_CLOUDWATCH_GROUP is set,
# also shipped to CloudWatch Logs (see logship.config for the LOG_* variables). The CloudWatch
# handler in this dict is created lazily, in the process that logs: gunicorn imports these
# settings in each worker after the fork (and run.py imports them before exec'ing gunicorn),
# and a sender thread started at import time would not exist in the process that logs.
# Django's own loggers propagate to the root handlers; below ERROR they are dropped (a 4xx
# "Not Found: ..." warning per request would duplicate the catalog.access record), while
# unhandled exceptions are still logged by django.request with their traceback.
LOG_SERVICE = _env("LOG_SERVICE", "").strip() or "catalog"
LOG_ENVIRONMENT = _env("LOG_ENVIRONMENT", "").strip() or "development"
LOGGING = logging_config(LOG_SERVICE, environment=LOG_ENVIRONMENT, django_level="ERROR")
