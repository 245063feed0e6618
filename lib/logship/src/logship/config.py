"""``LOG_*`` environment variables: pure parsing into :class:`LogSettings`.

=================================  =========================================================
LOG_LEVEL                          DEBUG, INFO (default), WARNING, ERROR, CRITICAL or a number
LOG_SERVICE / LOG_ENVIRONMENT      service / environment names when not passed in code
LOG_CLOUDWATCH_GROUP               log group; CloudWatch shipping is on when set
LOG_CLOUDWATCH_STREAM              stream template (default ``{service}/{hostname}/{pid}``)
LOG_CLOUDWATCH_ENDPOINT            endpoint URL (an emulator); unset means AWS itself
LOG_CLOUDWATCH_CREATE_GROUP        create the group if missing (bool, default false)
LOG_CLOUDWATCH_RETENTION_DAYS      retention to set when creating (CloudWatch's allowed values)
LOG_SPOOL_DIR                      spool directory (default ``$TMPDIR/logship-spool``; ``off``)
LOG_SPOOL_MAX_BYTES                spool cap (default 100M)
LOG_BUFFER_MAX_BYTES               in-memory buffer cap (default 8M)
LOG_BUFFER_MAX_EVENTS              in-memory buffer cap in events (default 20000)
LOG_FLUSH_INTERVAL                 seconds between sends (default 5)
LOG_SHUTDOWN_TIMEOUT               flush/close deadline in seconds (default 10)
LOG_STATS_INTERVAL                 seconds between ``logship.stats`` records (default 60; 0 off)
LOG_MAX_MESSAGE_BYTES              cap on one formatted record (default 256K, max 1048550)
LOG_STDOUT                         ``always`` (default): every record also on stdout;
                                   ``unshipped``: a process that ships to CloudWatch prints
                                   nothing (one path per record where stdout is collected too)
AWS_REGION / AWS_DEFAULT_REGION    region
=================================  =========================================================

Sizes accept ``K``/``M``/``G`` suffixes (powers of 1024, optional ``i``/``B``); durations
accept ``ms``/``s``/``m``/``h``; booleans accept 1/0, true/false, yes/no, on/off. Empty values
count as unset. Bad values raise :class:`ConfigError` naming the variable.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

from .limits import (
    DEFAULT_MAX_MESSAGE_BYTES,
    MAX_MESSAGE_BYTES_HARD,
    MIN_MESSAGE_BYTES,
    RETENTION_DAYS,
)

__all__ = [
    "DEFAULT_SPOOL_DIR",
    "DEFAULT_STREAM_TEMPLATE",
    "STREAM_FIELDS",
    "ConfigError",
    "LogSettings",
    "parse_bool",
    "parse_bytes",
    "parse_env",
    "parse_level",
    "parse_seconds",
    "validate_stream_template",
]

DEFAULT_STREAM_TEMPLATE: Final = "{service}/{hostname}/{pid}"
DEFAULT_SPOOL_DIR: Final = os.path.join(tempfile.gettempdir(), "logship-spool")
STREAM_FIELDS: Final = (
    "service", "environment", "hostname", "pid", "program", "uuid", "machine_name",
    "program_name", "process_id", "strftime",
)  # fmt: skip

_LEVELS: Final = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
    "FATAL": logging.CRITICAL,
}
_SIZE: Final = re.compile(r"^\s*(\d+)\s*(?:([kmg])(?:i?b)?|b)?\s*$", re.IGNORECASE)
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$", re.IGNORECASE)
_TRUE: Final = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE: Final = frozenset({"0", "false", "no", "off", "n", "f"})
_OFF: Final = frozenset({"off", "none", "disabled", "false", "0", "no"})


class ConfigError(ValueError):
    """A ``LOG_*`` setting has a bad value; the message names the variable."""


def parse_level(name: str, value: str) -> int:
    """A level name or number."""
    text = value.strip()
    if text.isdigit():
        level = int(text)
        if level > 100:
            raise ConfigError(f"{name}: level number must be 0..100, got {value!r}")
        return level
    level_value = _LEVELS.get(text.upper())
    if level_value is None:
        raise ConfigError(
            f"{name}: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {value!r}"
        )
    return level_value


def parse_bool(name: str, value: str) -> bool:
    """1/0, true/false, yes/no, on/off."""
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{name}: expected a boolean (true/false, 1/0, yes/no), got {value!r}")


def parse_bytes(name: str, value: str, minimum: int = 1, maximum: int | None = None) -> int:
    """A byte size: ``1048576``, ``512K``, ``8M``, ``8MiB``, ``1G``."""
    match = _SIZE.match(value)
    if match is None:
        raise ConfigError(f"{name}: expected a size like 8388608, 512K, 8M or 1G, got {value!r}")
    number = int(match.group(1))
    unit = (match.group(2) or "").lower()
    number *= {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
    if number < minimum:
        raise ConfigError(f"{name}: must be at least {minimum} bytes, got {value!r}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name}: must be at most {maximum} bytes, got {value!r}")
    return number


def parse_seconds(name: str, value: str, allow_zero: bool = False) -> float:
    """A duration in seconds: ``5``, ``2.5``, ``500ms``, ``10s``, ``2m``, ``1h``."""
    match = _DURATION.match(value)
    if match is None:
        raise ConfigError(f"{name}: expected seconds like 5, 2.5, 500ms, 2m, got {value!r}")
    number = float(match.group(1))
    unit = (match.group(2) or "s").lower()
    seconds = number * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(f"{name}: must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    if seconds > 86_400:
        raise ConfigError(f"{name}: must be at most a day, got {value!r}")
    return seconds


def _parse_int(name: str, value: str, minimum: int, maximum: int) -> int:
    text = value.strip()
    if not text.isdigit():
        raise ConfigError(f"{name}: expected a whole number, got {value!r}")
    number = int(text)
    if not minimum <= number <= maximum:
        raise ConfigError(f"{name}: must be within {minimum}..{maximum}, got {value!r}")
    return number


def validate_stream_template(template: str, name: str = "stream template") -> str:
    """Check a stream template's fields; returns it unchanged."""
    sample: dict[str, object] = dict.fromkeys(STREAM_FIELDS, "x")
    sample["strftime"] = _dt.datetime.now(_dt.UTC)
    if not template.strip():
        raise ConfigError(f"{name}: must not be empty")
    try:
        template.format(**sample)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        fields = ", ".join("{" + field + "}" for field in STREAM_FIELDS)
        raise ConfigError(
            f"{name}: unknown or bad field in {template!r} ({exc}); allowed: {fields}"
        ) from exc
    return template


@dataclass(frozen=True)
class LogSettings:
    """Everything :func:`logship.setup.configure` needs besides service and environment."""

    level: int = logging.INFO
    service: str | None = None
    environment: str | None = None
    cloudwatch_group: str | None = None
    stream_template: str = DEFAULT_STREAM_TEMPLATE
    endpoint_url: str | None = None
    create_group: bool = False
    retention_days: int | None = None
    spool_dir: str | None = DEFAULT_SPOOL_DIR
    spool_max_bytes: int = 100 * 1024 * 1024
    buffer_max_bytes: int = 8 * 1024 * 1024
    buffer_max_events: int = 20_000
    flush_interval: float = 5.0
    shutdown_timeout: float = 10.0
    stats_interval: float = 60.0
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    region: str | None = None
    stdout: str = "always"  # or "unshipped"

    def __post_init__(self) -> None:
        if self.buffer_max_bytes < self.max_message_bytes + 26:
            raise ConfigError(
                "LOG_BUFFER_MAX_BYTES: must hold at least one message of LOG_MAX_MESSAGE_BYTES "
                f"({self.max_message_bytes} + 26 bytes)"
            )

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for logging the effective configuration)."""
        return asdict(self)

    def handler_kwargs(self, service: str, environment: str) -> dict[str, Any]:
        """Keyword arguments for :class:`logship.cloudwatch.CloudWatchHandler` (plain values)."""
        if not self.cloudwatch_group:
            raise ConfigError("LOG_CLOUDWATCH_GROUP: not set")
        return {
            "log_group_name": self.cloudwatch_group,
            "service": service,
            "environment": environment,
            "stream_template": self.stream_template,
            "region_name": self.region,
            "endpoint_url": self.endpoint_url,
            "create_log_group": self.create_group,
            "retention_days": self.retention_days,
            "spool_dir": self.spool_dir,
            "spool_max_bytes": self.spool_max_bytes,
            "buffer_max_bytes": self.buffer_max_bytes,
            "buffer_max_events": self.buffer_max_events,
            "flush_interval": self.flush_interval,
            "max_message_bytes": self.max_message_bytes,
            "shutdown_timeout": self.shutdown_timeout,
            "stats_interval": self.stats_interval,
        }


def parse_env(env: Mapping[str, str]) -> LogSettings:
    """Read the ``LOG_*`` and AWS region variables (pure: only looks at ``env``)."""

    def get(name: str) -> str | None:
        value = env.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    values: dict[str, Any] = {}
    if (raw := get("LOG_LEVEL")) is not None:
        values["level"] = parse_level("LOG_LEVEL", raw)
    if (raw := get("LOG_SERVICE")) is not None:
        values["service"] = raw
    if (raw := get("LOG_ENVIRONMENT")) is not None:
        values["environment"] = raw
    if (raw := get("LOG_CLOUDWATCH_GROUP")) is not None:
        if len(raw) > 512 or not re.fullmatch(r"[\w\-./#]+", raw):
            raise ConfigError(
                f"LOG_CLOUDWATCH_GROUP: 1-512 characters of letters, digits, _ - . / #, got {raw!r}"
            )
        values["cloudwatch_group"] = raw
    if (raw := get("LOG_CLOUDWATCH_STREAM")) is not None:
        values["stream_template"] = validate_stream_template(raw, "LOG_CLOUDWATCH_STREAM")
    if (raw := get("LOG_CLOUDWATCH_ENDPOINT")) is not None:
        if not re.match(r"^https?://[^\s/]+", raw):
            raise ConfigError(
                f"LOG_CLOUDWATCH_ENDPOINT: expected an http(s) URL like http://127.0.0.1:4566, "
                f"got {raw!r}"
            )
        values["endpoint_url"] = raw
    if (raw := get("LOG_CLOUDWATCH_CREATE_GROUP")) is not None:
        values["create_group"] = parse_bool("LOG_CLOUDWATCH_CREATE_GROUP", raw)
    if (raw := get("LOG_CLOUDWATCH_RETENTION_DAYS")) is not None:
        days = _parse_int("LOG_CLOUDWATCH_RETENTION_DAYS", raw, 1, 3653)
        if days not in RETENTION_DAYS:
            raise ConfigError(
                f"LOG_CLOUDWATCH_RETENTION_DAYS: must be one of {sorted(RETENTION_DAYS)}, "
                f"got {raw!r}"
            )
        values["retention_days"] = days
    if (raw := get("LOG_SPOOL_DIR")) is not None:
        values["spool_dir"] = None if raw.lower() in _OFF else raw
    if (raw := get("LOG_SPOOL_MAX_BYTES")) is not None:
        values["spool_max_bytes"] = parse_bytes("LOG_SPOOL_MAX_BYTES", raw, minimum=64 * 1024)
    if (raw := get("LOG_BUFFER_MAX_BYTES")) is not None:
        values["buffer_max_bytes"] = parse_bytes("LOG_BUFFER_MAX_BYTES", raw, minimum=2048)
    if (raw := get("LOG_BUFFER_MAX_EVENTS")) is not None:
        values["buffer_max_events"] = _parse_int("LOG_BUFFER_MAX_EVENTS", raw, 1, 10_000_000)
    if (raw := get("LOG_FLUSH_INTERVAL")) is not None:
        values["flush_interval"] = parse_seconds("LOG_FLUSH_INTERVAL", raw)
    if (raw := get("LOG_SHUTDOWN_TIMEOUT")) is not None:
        values["shutdown_timeout"] = parse_seconds("LOG_SHUTDOWN_TIMEOUT", raw, allow_zero=True)
    if (raw := get("LOG_STATS_INTERVAL")) is not None:
        values["stats_interval"] = parse_seconds("LOG_STATS_INTERVAL", raw, allow_zero=True)
    if (raw := get("LOG_MAX_MESSAGE_BYTES")) is not None:
        values["max_message_bytes"] = parse_bytes(
            "LOG_MAX_MESSAGE_BYTES", raw, minimum=MIN_MESSAGE_BYTES, maximum=MAX_MESSAGE_BYTES_HARD
        )
    if (raw := get("LOG_STDOUT")) is not None:
        mode = raw.lower()
        if mode not in ("always", "unshipped"):
            raise ConfigError(f"LOG_STDOUT: must be always or unshipped, got {raw!r}")
        values["stdout"] = mode
    region = get("AWS_REGION") or get("AWS_DEFAULT_REGION")
    if region is not None:
        if not re.fullmatch(r"[a-z0-9-]{2,32}", region):
            raise ConfigError(f"AWS_REGION: expected a region like eu-west-1, got {region!r}")
        values["region"] = region
    return LogSettings(**values)
