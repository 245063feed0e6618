"""Settings for the catalog service.

Configuration comes from the environment and is read exactly once, when this module is
imported, by the service's one settings model (:class:`catalog_project.config.CatalogSettings`,
which documents every variable: ``CATALOG_DB_PATH``, ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG``,
``DJANGO_ALLOWED_HOSTS``, ``UPSTREAM_TEST_ENDPOINTS`` and logship's ``LOG_*``). A bad value raises
``ImproperlyConfigured`` with one line naming the variable; ``run.py`` and ``gunicorn.conf.py``
check the same model first and stop with that line.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from logship.django import logging_config

from catalog_project.config import CatalogSettings

_CONFIG = CatalogSettings.from_env(error=ImproperlyConfigured)

SECRET_KEY = _CONFIG.secret_key
DEBUG = _CONFIG.debug
ALLOWED_HOSTS = list(_CONFIG.allowed_hosts)

# Exposes the diagnostic endpoints under /catalog/_test/ used by the BFF proxy tests.
CATALOG_TEST_ENDPOINTS = _CONFIG.test_endpoints

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
        "NAME": _CONFIG.db_path,
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
LOG_SERVICE = _CONFIG.log_service
LOG_ENVIRONMENT = _CONFIG.log_environment
LOGGING = logging_config(LOG_SERVICE, environment=LOG_ENVIRONMENT, django_level="ERROR")
