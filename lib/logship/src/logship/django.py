"""Django ``LOGGING`` that ships to CloudWatch correctly.

In ``settings.py``::

    from logship.django import logging_config

    LOGGING = logging_config("catalog", environment=os.environ.get("APP_ENV", "dev"))
    MIDDLEWARE = ["logship.django.RequestContextMiddleware", *MIDDLEWARE]

The CloudWatch handler in this dict is a factory result that creates the real handler (boto3
client, sender thread, spool) lazily, in the process that logs, on its first record: Django
may configure logging in a process that forks afterwards (gunicorn ``preload_app``, the
runserver autoreloader's parent), and a thread started there would not exist in the workers.
See the package README for the pitfalls this avoids.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from . import context as _context
from .cloudwatch import LazyCloudWatchHandler
from .config import parse_env, parse_level
from .setup import ConfigError, dict_config

__all__ = ["RequestContextMiddleware", "cloudwatch_handler", "logging_config"]


def logging_config(
    service: str | None = None,
    environment: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    level: str | int | None = None,
    django_level: str | int | None = None,
    loggers: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``LOGGING`` dict: JSON on stdout, and CloudWatch when ``LOG_CLOUDWATCH_GROUP`` is set.

    Django's loggers propagate to the root logger (no duplicate handlers);
    ``django_level`` sets the ``django`` logger's level (default: the root level).
    """
    settings = parse_env(os.environ if env is None else env)
    if level is not None:
        root_level = parse_level("level", str(level))
        settings = type(settings)(**{**settings.as_dict(), "level": root_level})
    service_name = service or settings.service
    if not service_name:
        raise ConfigError("service: pass logging_config(service=...) or set LOG_SERVICE")
    django_logger: dict[str, Any] = {"handlers": [], "propagate": True}
    if django_level is not None:
        django_logger["level"] = parse_level("django_level", str(django_level))
    merged_loggers: dict[str, Mapping[str, Any]] = {
        "django": django_logger,
        "django.server": {"handlers": [], "propagate": True},
        **(loggers or {}),
    }
    return dict_config(
        service_name, environment or settings.environment or "", settings, loggers=merged_loggers
    )


def cloudwatch_handler(**kwargs: Any) -> LazyCloudWatchHandler:
    """Handler factory for ``LOGGING`` (``"()": "logship.django.cloudwatch_handler"``)."""
    return LazyCloudWatchHandler(**kwargs)


class RequestContextMiddleware:
    """Binds ``request_id`` (from ``X-Request-ID`` or new) and ``trace_id`` (from
    ``traceparent``) for the request, and echoes ``X-Request-ID`` on the response."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        meta = getattr(request, "META", {})
        request_id = _context.request_id_from(meta.get("HTTP_X_REQUEST_ID"))
        trace_id = _context.trace_id_from_traceparent(meta.get("HTTP_TRACEPARENT"))
        with _context.bind(request_id=request_id, trace_id=trace_id):
            response = self.get_response(request)
        try:
            response["X-Request-ID"] = request_id
        except (TypeError, KeyError, AttributeError):
            pass
        return response
