"""gunicorn hooks: JSON error log, CloudWatch handler created after fork, flush on exit.

In ``gunicorn.conf.py``::

    from logship import gunicorn as logship_gunicorn

    logconfig_dict = logship_gunicorn.logconfig_dict(service="bff", environment="prod")
    post_worker_init = logship_gunicorn.post_worker_init
    worker_exit = logship_gunicorn.worker_exit

``logconfig_dict`` makes gunicorn's own loggers (``gunicorn.error``, and ``gunicorn.access``
when enabled) propagate to the root logger, which writes JSON to stdout in the master and in
every worker. ``post_worker_init`` runs in each worker after the fork (and after gevent's
monkey-patching) and calls :func:`logship.setup.configure`, which adds the CloudWatch handler
when ``LOG_CLOUDWATCH_GROUP`` is set. ``worker_exit`` flushes and closes it within
``LOG_SHUTDOWN_TIMEOUT`` (keep gunicorn's ``graceful_timeout`` above that plus the time your
requests need to drain).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from . import setup as _setup
from .config import LogSettings, parse_env
from .notices import notice

__all__ = ["logconfig_dict", "post_worker_init", "worker_exit"]

_HOOK_ARGS: dict[str, Any] = {}


def logconfig_dict(
    service: str | None = None,
    environment: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    access_log: bool = False,
) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: JSON on stdout for the master and the workers.

    Also remembers ``service``/``environment``/``env`` for :func:`post_worker_init`. With
    ``access_log`` gunicorn's access lines are logged (as JSON, through the root logger).
    """
    source = os.environ if env is None else env
    settings = parse_env(source)
    service_name = service or settings.service
    if not service_name:
        raise _setup.ConfigError("service: pass logconfig_dict(service=...) or set LOG_SERVICE")
    environment_name = environment or settings.environment or ""
    _HOOK_ARGS.update(service=service_name, environment=environment_name, env=env)
    stdout_only = LogSettings(
        level=settings.level,
        max_message_bytes=settings.max_message_bytes,
        buffer_max_bytes=max(settings.buffer_max_bytes, settings.max_message_bytes + 26),
    )
    config = _setup.dict_config(
        service_name,
        environment_name,
        stdout_only,
        loggers={
            "gunicorn.error": {"handlers": [], "propagate": True},
            "gunicorn.access": {
                "handlers": [],
                "propagate": access_log,
                "level": "INFO" if access_log else "WARNING",
            },
        },
    )
    return config


def post_worker_init(worker: object) -> None:
    """Configure logging (stdout JSON + CloudWatch) in the freshly forked worker.

    Does nothing if the application already called :func:`logship.setup.configure` in this
    process. Configuration errors are printed and re-raised, so a misconfigured worker fails
    to boot instead of running without logs.
    """
    if _setup.active() is not None:
        return
    try:
        _setup.configure(
            _HOOK_ARGS.get("service"),
            _HOOK_ARGS.get("environment"),
            env=_HOOK_ARGS.get("env"),
        )
    except _setup.ConfigError as exc:
        notice(
            f"configuration error: {exc}",
            level=logging.ERROR,
            service=str(_HOOK_ARGS.get("service") or ""),
            environment=str(_HOOK_ARGS.get("environment") or ""),
        )
        raise


def worker_exit(server: object, worker: object) -> None:
    """Deliver or spool everything buffered, within ``LOG_SHUTDOWN_TIMEOUT``. Never raises."""
    _setup.shutdown()
