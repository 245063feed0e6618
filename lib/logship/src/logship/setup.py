"""One call to configure the root logger: JSON to stdout always, CloudWatch when configured.

::

    from logship.setup import configure
    configure("bff", "prod")          # reads LOG_* variables from os.environ

Call it in the process that will log (in a gunicorn worker: ``post_worker_init``, see
:mod:`logship.gunicorn`), not in a parent that forks afterwards.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TextIO

from .config import ConfigError, LogSettings, parse_env, validate_stream_template
from .formatter import JsonFormatter

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

    from .cloudwatch import CloudWatchHandler

__all__ = [
    "ConfigError",
    "LogSettings",
    "LoggingSetup",
    "active",
    "configure",
    "dict_config",
    "parse_env",
    "shutdown",
]

_MARK: Final = "_logship_installed"
_QUIET_LOGGERS: Final = ("botocore", "boto3", "urllib3", "s3transfer")
_ACTIVE: LoggingSetup | None = None
_ROUTED: set[str] = set()  # loggers given their own stream by the last configure()


@dataclass
class LoggingSetup:
    """What :func:`configure` installed."""

    service: str
    environment: str
    settings: LogSettings
    formatter: JsonFormatter
    stdout_handler: logging.Handler | None
    cloudwatch_handler: CloudWatchHandler | None
    logger: logging.Logger
    pid: int
    stream_handlers: dict[str, CloudWatchHandler] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        """The CloudWatch handler's counters (empty without one)."""
        return self.cloudwatch_handler.stats() if self.cloudwatch_handler is not None else {}

    def stream_stats(self) -> dict[str, dict[str, Any]]:
        """Counters of each logger routed to its own stream, by logger name."""
        return {name: handler.stats() for name, handler in self.stream_handlers.items()}

    def flush(self, timeout: float | None = None) -> None:
        """Flush stdout and CloudWatch within ``timeout`` (default LOG_SHUTDOWN_TIMEOUT)."""
        if self.stdout_handler is not None:
            self.stdout_handler.flush()
        if self.cloudwatch_handler is not None:
            self.cloudwatch_handler.flush(
                self.settings.shutdown_timeout if timeout is None else timeout
            )
        for handler in self.stream_handlers.values():
            handler.flush(self.settings.shutdown_timeout if timeout is None else timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush and close the CloudWatch handler within ``timeout``. Never raises."""
        if self.stdout_handler is not None:
            try:
                self.stdout_handler.flush()
            except Exception:  # noqa: BLE001, S110 - a closed stdout must not block shutdown
                pass
        if self.cloudwatch_handler is not None:
            self.cloudwatch_handler.close(
                self.settings.shutdown_timeout if timeout is None else timeout
            )
        for handler in self.stream_handlers.values():
            handler.close(self.settings.shutdown_timeout if timeout is None else timeout)


def _merge(settings: LogSettings, overrides: Mapping[str, Any]) -> LogSettings:
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return type(settings)(**{**settings.as_dict(), **given})
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from exc


def configure(
    service: str | None = None,
    environment: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    settings: LogSettings | None = None,
    level: int | str | None = None,
    cloudwatch_group: str | None = None,
    stream_template: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    create_group: bool | None = None,
    retention_days: int | None = None,
    spool_dir: str | None = None,
    spool_max_bytes: int | None = None,
    buffer_max_bytes: int | None = None,
    buffer_max_events: int | None = None,
    flush_interval: float | None = None,
    shutdown_timeout: float | None = None,
    stats_interval: float | None = None,
    max_message_bytes: int | None = None,
    boto3_client: CloudWatchLogsClient | None = None,
    streams: Mapping[str, str] | None = None,
    stdout: bool = True,
    stream: TextIO | None = None,
    logger: logging.Logger | None = None,
    replace_handlers: bool = True,
) -> LoggingSetup:
    """Configure ``logger`` (the root logger by default) and return what was installed.

    Settings come from ``settings`` or ``parse_env(env)`` (``env`` defaults to
    ``os.environ``); keyword arguments that are not None override them. CloudWatch shipping
    is on when a log group is set (``cloudwatch_group`` or ``LOG_CLOUDWATCH_GROUP``).
    Calling it again replaces what the previous call installed (closing its CloudWatch
    handler).

    ``streams`` maps logger names to stream templates (same fields as
    ``LOG_CLOUDWATCH_STREAM``): while shipping, each such logger gets its own CloudWatch
    handler (its own buffer, spool use, counters and shutdown flush) writing to that stream of
    the same group, plus the stdout handler, and stops propagating, so its records are in
    CloudWatch once. Without a log group they simply propagate. Root logger only.

    With ``replace_handlers`` the logger's other handlers are removed too, so
    nothing is printed twice.

    Raises :class:`ConfigError` on bad settings (including a missing region when shipping).
    """
    global _ACTIVE  # noqa: PLW0603 - one logging setup per process
    base = settings if settings is not None else parse_env(os.environ if env is None else env)
    if isinstance(level, str):
        from .config import parse_level

        level = parse_level("level", level)
    merged = _merge(
        base,
        {
            "level": level,
            "cloudwatch_group": cloudwatch_group,
            "stream_template": stream_template,
            "endpoint_url": endpoint_url,
            "region": region,
            "create_group": create_group,
            "retention_days": retention_days,
            "spool_dir": spool_dir,
            "spool_max_bytes": spool_max_bytes,
            "buffer_max_bytes": buffer_max_bytes,
            "buffer_max_events": buffer_max_events,
            "flush_interval": flush_interval,
            "shutdown_timeout": shutdown_timeout,
            "stats_interval": stats_interval,
            "max_message_bytes": max_message_bytes,
        },
    )
    service_name = service or merged.service
    if not service_name:
        raise ConfigError("service: pass configure(service=...) or set LOG_SERVICE")
    environment_name = environment or merged.environment or ""
    formatter = JsonFormatter(
        service_name, environment_name, max_message_bytes=merged.max_message_bytes
    )
    target = logger if logger is not None else logging.getLogger()

    cloudwatch: CloudWatchHandler | None = None
    if merged.cloudwatch_group:
        from .cloudwatch import CloudWatchHandler

        kwargs = merged.handler_kwargs(service_name, environment_name)
        try:
            cloudwatch = CloudWatchHandler(**kwargs, boto3_client=boto3_client, formatter=formatter)
        except ValueError as exc:
            raise ConfigError(f"CloudWatch handler: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - botocore errors (e.g. no region) made clear
            raise ConfigError(
                f"CloudWatch handler for group {merged.cloudwatch_group!r} could not be created "
                f"({type(exc).__name__}: {exc}); set AWS_REGION and credentials, or "
                "LOG_CLOUDWATCH_ENDPOINT for an emulator"
            ) from exc

    routed: dict[str, CloudWatchHandler] = {}
    if cloudwatch is not None and streams and logger is None:
        routed = _stream_handlers(streams, kwargs, boto3_client, formatter, cloudwatch)

    _uninstall(target, replace_handlers)
    _unroute()
    if cloudwatch is not None and merged.stdout == "unshipped":
        # One path per record: where stdout is collected too (ECS's awslogs driver), the
        # records CloudWatch gets from this handler are not printed again. What never
        # reaches a handler (a crash before logging starts) and logship's own notices
        # (stderr) still go to stdout/stderr.
        stdout = False
    stdout_handler: logging.Handler | None = None
    if stdout:
        stdout_handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
        stdout_handler.setFormatter(formatter)
        setattr(stdout_handler, _MARK, True)
        target.addHandler(stdout_handler)
    if cloudwatch is not None:
        setattr(cloudwatch, _MARK, True)
        target.addHandler(cloudwatch)
    target.setLevel(merged.level)
    for name, handler in routed.items():
        named = logging.getLogger(name)
        setattr(handler, _MARK, True)
        named.addHandler(handler)
        if stdout_handler is not None:
            named.addHandler(stdout_handler)
        named.propagate = False
        _ROUTED.add(name)
    for name in _QUIET_LOGGERS:
        quiet = logging.getLogger(name)
        if quiet.level == logging.NOTSET:
            quiet.setLevel(max(logging.WARNING, merged.level))

    result = LoggingSetup(
        service=service_name,
        environment=environment_name,
        settings=merged,
        formatter=formatter,
        stdout_handler=stdout_handler,
        cloudwatch_handler=cloudwatch,
        logger=target,
        pid=os.getpid(),
        stream_handlers=routed,
    )
    if logger is None:
        _ACTIVE = result
    return result


def _stream_handlers(
    streams: Mapping[str, str],
    kwargs: dict[str, Any],
    boto3_client: CloudWatchLogsClient | None,
    formatter: JsonFormatter,
    main: CloudWatchHandler,
) -> dict[str, CloudWatchHandler]:
    """One CloudWatch handler per routed logger; on any error the ones built are closed."""
    from .cloudwatch import CloudWatchHandler

    built: dict[str, CloudWatchHandler] = {}
    try:
        for name, template in streams.items():
            if not name or name == "root":
                raise ConfigError(f"streams: {name!r} is not a named logger")
            validate_stream_template(template, f"stream template for logger {name!r}")
            # No periodic ``logship stats`` records in a routed stream: it carries that
            # logger's records only (a client-errors stream holds reports, nothing else); its
            # counters stay readable through LoggingSetup.stats().
            built[name] = CloudWatchHandler(
                **{**kwargs, "stream_template": template, "stats_interval": 0},
                boto3_client=boto3_client if boto3_client is not None else main.cwl_client,
                formatter=formatter,
            )
    except Exception as exc:
        for handler in (*built.values(), main):
            handler.close(0)
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"CloudWatch stream handler: {exc}") from exc
    return built


def _unroute() -> None:
    """Undo what the previous configure() did to loggers routed to their own stream."""
    for name in list(_ROUTED):
        named = logging.getLogger(name)
        _uninstall(named, replace_handlers=False)
        named.propagate = True
        _ROUTED.discard(name)


def _uninstall(target: logging.Logger, replace_handlers: bool) -> None:
    for handler in list(target.handlers):
        ours = getattr(handler, _MARK, False)
        if ours or replace_handlers:
            target.removeHandler(handler)
        if ours and hasattr(handler, "stats"):
            handler.close()


def active() -> LoggingSetup | None:
    """What :func:`configure` installed on the root logger in this process, if anything."""
    current = _ACTIVE
    return current if current is not None and current.pid == os.getpid() else None


def shutdown(timeout: float | None = None) -> None:
    """Flush and close every CloudWatch handler of this process within one deadline.

    Covers handlers from :func:`configure` and from dict configs (Django ``LOGGING``, uvicorn).
    Never raises; for gunicorn's ``worker_exit`` and for ASGI lifespan shutdown.
    """
    try:
        from .cloudwatch import close_all

        current = active()
        budget = timeout
        if budget is None:
            budget = current.settings.shutdown_timeout if current is not None else 10.0
        if current is not None and current.stdout_handler is not None:
            current.stdout_handler.flush()
        close_all(budget)
    except Exception as exc:  # noqa: BLE001 - shutdown hooks must never raise
        from .notices import notice

        notice(f"shutdown failed: {exc!r}", level=logging.ERROR)


def dict_config(
    service: str,
    environment: str,
    settings: LogSettings,
    *,
    loggers: Mapping[str, Mapping[str, Any]] | None = None,
    stream: str = "ext://sys.stdout",
) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` dict: JSON to stdout on the root logger and, when a
    group is configured, a CloudWatch handler created lazily in the process that logs."""
    handlers: dict[str, Any] = {
        "logship_stdout": {
            "class": "logging.StreamHandler",
            "stream": stream,
            "formatter": "logship_json",
        }
    }
    root_handlers = ["logship_stdout"]
    if settings.cloudwatch_group:
        handlers["logship_cloudwatch"] = {
            "()": "logship.cloudwatch.LazyCloudWatchHandler",
            "formatter": "logship_json",
            **settings.handler_kwargs(service, environment),
        }
        root_handlers.append("logship_cloudwatch")
    quiet = {name: {"level": "WARNING"} for name in _QUIET_LOGGERS}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "logship_json": {
                "()": "logship.formatter.JsonFormatter",
                "service": service,
                "environment": environment,
                "max_message_bytes": settings.max_message_bytes,
            }
        },
        "handlers": handlers,
        "root": {"level": settings.level, "handlers": root_handlers},
        "loggers": {**quiet, **{name: dict(conf) for name, conf in (loggers or {}).items()}},
    }
