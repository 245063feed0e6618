"""``LOG_*`` environment variables, read by one pydantic-settings model: :class:`LogSettings`.

Every variable is a field of :class:`LogSettings` whose alias is the variable's name and whose
description is its documentation (``scripts/settings_doc.py`` prints the table in
``lib/logship/README.md`` from it). Sizes accept ``K``/``M``/``G`` suffixes (powers of 1024,
optional ``i``/``B``); durations accept ``ms``/``s``/``m``/``h``; booleans accept 1/0,
true/false, yes/no, on/off. Empty values count as unset. A bad value raises
:class:`ConfigError` with one line naming the variable.

The pieces every service's settings model shares live here too: :class:`EnvironmentSource`
(a pydantic-settings source over one mapping, so parsing stays a pure function of the
environment it is given), :func:`read_environment` and :func:`error_line` (a validation error
as one line naming the variable, its problem and what is allowed).
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import re
import tempfile
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, Final, TypeVar

from annotated_types import Ge, Gt, Le, Lt
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .limits import (
    DEFAULT_MAX_MESSAGE_BYTES,
    EVENT_OVERHEAD_BYTES,
    MAX_MESSAGE_BYTES_HARD,
    MIN_MESSAGE_BYTES,
    RETENTION_DAYS,
)

__all__ = [
    "DEFAULT_SPOOL_DIR",
    "DEFAULT_STREAM_TEMPLATE",
    "STREAM_FIELDS",
    "ConfigError",
    "EnvironmentSource",
    "LogSettings",
    "ServiceSettings",
    "WholeNumber",
    "env_variables",
    "error_line",
    "parse_bool",
    "parse_bytes",
    "parse_env",
    "parse_level",
    "parse_seconds",
    "read_environment",
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
_WHOLE: Final = re.compile(r"^-?\d+$")
_TRUE: Final = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE: Final = frozenset({"0", "false", "no", "off", "n", "f"})
_OFF: Final = frozenset({"off", "none", "disabled", "false", "0", "no"})

_Model = TypeVar("_Model", bound=BaseModel)


class ConfigError(ValueError):
    """A ``LOG_*`` setting has a bad value; the message names the variable."""


# --- the settings machinery every service shares -------------------------------------------


def _variable_names(field: FieldInfo) -> tuple[str, ...]:
    """The environment variables a field reads, first one first (its validation alias)."""
    alias = field.validation_alias
    if isinstance(alias, str):
        return (alias,)
    if isinstance(alias, AliasChoices):
        return tuple(choice for choice in alias.choices if isinstance(choice, str))
    return ()


def _section(field: FieldInfo) -> type[BaseModel] | None:
    """The model of a nested section (a field whose type is a model and has no variable)."""
    kind = field.annotation
    if isinstance(kind, type) and issubclass(kind, BaseModel) and not _variable_names(field):
        return kind
    return None


def env_variables(model: type[BaseModel]) -> Iterator[tuple[str, FieldInfo]]:
    """Every ``(variable name, field)`` of a settings model, nested sections included, in
    declaration order; a field read from several variables appears once, by its first name."""
    for field in model.model_fields.values():
        section = _section(field)
        if section is not None:
            yield from env_variables(section)
        elif names := _variable_names(field):
            yield names[0], field


def _first_set(field: FieldInfo, env: Mapping[str, str]) -> tuple[str, str] | None:
    """The first of the field's variables set to a non-blank value, and that value stripped."""
    for variable in _variable_names(field):
        raw = env.get(variable)
        if raw is not None and raw.strip():
            return variable, raw.strip()
    return None


def _values(model: type[BaseModel], env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        section = _section(field)
        if section is not None:
            values[name] = _values(section, env)
        elif found := _first_set(field, env):
            values[found[0]] = found[1]
    return values


class EnvironmentSource(PydanticBaseSettingsSource):
    """A settings source over one mapping of environment variables.

    Each field is read from the variable its ``validation_alias`` names (the first of an
    :class:`~pydantic.AliasChoices` that is set wins); values are stripped and blank ones count
    as unset; nested sections (fields typed as a model, without an alias) read their own
    fields the same way. Nothing else is read, so a model built from it is a pure function of
    the mapping.
    """

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._env = env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """The stripped value of the field's variable, or None when it is unset or blank."""
        found = _first_set(field, self._env)
        if found is None:
            return None, field_name, False
        return found[1], found[0], False

    def __call__(self) -> dict[str, Any]:
        return _values(self.settings_cls, self._env)


def _field_by_variable(model: type[BaseModel], name: str) -> FieldInfo | None:
    for variable, field in env_variables(model):
        if name == variable or name in _variable_names(field):
            return field
    return None


def _bounds(field: FieldInfo) -> tuple[object | None, object | None]:
    low: object | None = None
    high: object | None = None
    for item in field.metadata:
        if isinstance(item, Ge | Gt):
            low = item.ge if isinstance(item, Ge) else item.gt
        elif isinstance(item, Le | Lt):
            high = item.le if isinstance(item, Le) else item.lt
    return low, high


def _number_rule(field: FieldInfo) -> str:
    kind = field.annotation
    while typing.get_origin(kind) is not None:  # Optional[int] and the like
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    noun = "an integer" if kind is int else "a number"
    low, high = _bounds(field)
    if low is not None and high is not None:
        return f"must be {noun} between {low} and {high}"
    if low is not None:
        return f"must be {noun} of at least {low}"
    if high is not None:
        return f"must be {noun} of at most {high}"
    return f"must be {noun}"


_NUMBER_ERRORS: Final = frozenset(
    {
        "int_parsing", "int_from_float", "int_type", "float_parsing", "float_type",
        "finite_number", "greater_than", "greater_than_equal", "less_than", "less_than_equal",
    }
)  # fmt: skip


def error_line(exc: ValidationError, model: type[BaseModel]) -> str:
    """The first error of ``exc`` as one line: the variable, what is wrong, what is allowed.

    A validator's own message is used as written when it names the variable; pydantic's
    type and bound errors are rewritten from the field (``BFF_WORKERS must be an integer
    between 1 and 64, got 'x'``).
    """
    error = exc.errors(include_url=False)[0]
    loc = error["loc"]
    name = str(loc[-1]) if loc else ""
    raw = error.get("input")
    kind = error["type"]
    field = _field_by_variable(model, name)
    if kind == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
        # A model-wide rule (or a section's) names its variables itself.
        return message if field is None or message.startswith(name) else f"{name}: {message}"
    if kind == "missing":
        return f"{name} is required"
    if field is None:
        return f"{name or model.__name__}: {error['msg']}"
    if kind in _NUMBER_ERRORS:
        return f"{name} {_number_rule(field)}, got {raw!r}"
    if kind == "bool_parsing":
        return f"{name} must be true or false, got {raw!r}"
    if kind == "literal_error":
        kind_args = typing.get_args(field.annotation)
        allowed = ", ".join(str(arg) for arg in kind_args) or error["msg"]
        return f"{name} must be one of {allowed}, got {raw!r}"
    return f"{name}: {error['msg'][0].lower()}{error['msg'][1:]}, got {raw!r}"


def read_environment(
    model: type[_Model],
    env: Mapping[str, str],
    error: Callable[[str], Exception] = ConfigError,
) -> _Model:
    """Build the settings ``model`` from ``env`` alone; a bad value raises ``error`` with one
    line naming the variable (never pydantic's multi-line report)."""
    try:
        if issubclass(model, BaseSettings):
            source = EnvironmentSource(model, env)
            return model(_build_sources=((source,), {}))
        return model.model_validate(_values(model, env))
    except ValidationError as exc:
        raise error(error_line(exc, model)) from None


def _whole_number(value: object) -> object:
    if isinstance(value, str) and not _WHOLE.match(value.strip()):
        raise PydanticCustomError("int_parsing", "not a whole number")
    return value


#: An ``int`` that, from text, must be written as one (``5``, not ``5.0``, ``1_0`` or ``+5``).
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]


# --- the LOG_* value parsers (also used on their own) ------------------------------------


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


# --- the model ----------------------------------------------------------------------------


def _text(parse: Callable[[str], object]) -> BeforeValidator:
    """Parse text (an environment value) with ``parse``; values given in code pass through to
    the field's type."""
    return BeforeValidator(lambda value: parse(value) if isinstance(value, str) else value)


def _group(value: str) -> str:
    if len(value) > 512 or not re.fullmatch(r"[\w\-./#]+", value):
        raise ConfigError(
            f"LOG_CLOUDWATCH_GROUP: 1-512 characters of letters, digits, _ - . / #, got {value!r}"
        )
    return value


def _endpoint(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ConfigError(
            f"LOG_CLOUDWATCH_ENDPOINT: expected an http(s) URL like http://127.0.0.1:4566, "
            f"got {value!r}"
        )
    return value


def _retention(value: str) -> int:
    days = _parse_int("LOG_CLOUDWATCH_RETENTION_DAYS", value, 1, 3653)
    if days not in RETENTION_DAYS:
        raise ConfigError(
            f"LOG_CLOUDWATCH_RETENTION_DAYS: must be one of {sorted(RETENTION_DAYS)}, got {value!r}"
        )
    return days


def _spool_dir(value: str) -> str | None:
    return None if value.strip().lower() in _OFF else value


def _stdout(value: str) -> str:
    mode = value.strip().lower()
    if mode not in ("always", "unshipped"):
        raise ConfigError(f"LOG_STDOUT: must be always or unshipped, got {value!r}")
    return mode


def _region(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9-]{2,32}", value):
        raise ConfigError(f"AWS_REGION: expected a region like eu-west-1, got {value!r}")
    return value


class ServiceSettings(BaseSettings):
    """The base of every service's settings model: frozen, unknown names refused, no infinite or
    NaN numbers, and no source but the values given. The environment is read explicitly, by
    :func:`read_environment`, so a model built with keyword arguments in code reads none."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        allow_inf_nan=False,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values given."""
        return (init_settings,)


class LogSettings(ServiceSettings):
    """Everything :func:`logship.setup.configure` needs besides service and environment.

    Built from the environment by :func:`parse_env`; built with keyword arguments in code
    (field names), it reads no environment at all.
    """

    level: Annotated[int, _text(lambda v: parse_level("LOG_LEVEL", v))] = Field(
        default=logging.INFO,
        validation_alias="LOG_LEVEL",
        description="root level: DEBUG, INFO, WARNING, ERROR, CRITICAL or a number 0..100",
        json_schema_extra={"shown": "INFO"},
    )
    service: str | None = Field(
        default=None,
        validation_alias="LOG_SERVICE",
        description="`service` of every record, when not passed in code",
    )
    environment: str | None = Field(
        default=None,
        validation_alias="LOG_ENVIRONMENT",
        description="`environment` of every record, when not passed in code",
    )
    cloudwatch_group: Annotated[str | None, _text(_group)] = Field(
        default=None,
        validation_alias="LOG_CLOUDWATCH_GROUP",
        description="log group (1-512 of letters, digits, `_ - . / #`); shipping is on when set",
    )
    stream_template: Annotated[
        str, _text(lambda v: validate_stream_template(v, "LOG_CLOUDWATCH_STREAM"))
    ] = Field(
        default=DEFAULT_STREAM_TEMPLATE,
        validation_alias="LOG_CLOUDWATCH_STREAM",
        description="stream template: `{service}` `{environment}` `{hostname}` `{pid}` "
        "`{program}` `{uuid}` `{strftime:%Y-%m-%d}` (+ watchtower's names)",
    )
    endpoint_url: Annotated[str | None, _text(_endpoint)] = Field(
        default=None,
        validation_alias="LOG_CLOUDWATCH_ENDPOINT",
        description="endpoint URL (`http(s)://...`), e.g. the local emulator; unset: AWS",
    )
    create_group: Annotated[bool, _text(lambda v: parse_bool("LOG_CLOUDWATCH_CREATE_GROUP", v))] = (
        Field(
            default=False,
            validation_alias="LOG_CLOUDWATCH_CREATE_GROUP",
            description="create the group if missing (in the background)",
        )
    )
    retention_days: Annotated[int | None, _text(_retention)] = Field(
        default=None,
        validation_alias="LOG_CLOUDWATCH_RETENTION_DAYS",
        description="retention to set when creating: one of CloudWatch's values "
        "(1, 3, 5, 7, 14, 30, 60, 90, ... 3653)",
    )
    spool_dir: Annotated[str | None, _text(_spool_dir)] = Field(
        default=DEFAULT_SPOOL_DIR,
        validation_alias="LOG_SPOOL_DIR",
        description="spool directory for batches CloudWatch did not take; `off` disables it",
        json_schema_extra={"shown": "$TMPDIR/logship-spool"},
    )
    spool_max_bytes: Annotated[
        int, _text(lambda v: parse_bytes("LOG_SPOOL_MAX_BYTES", v, minimum=64 * 1024))
    ] = Field(
        default=100 * 1024 * 1024,
        validation_alias="LOG_SPOOL_MAX_BYTES",
        description="spool cap (whole directory), at least 64K",
        json_schema_extra={"shown": "100M"},
    )
    buffer_max_bytes: Annotated[
        int, _text(lambda v: parse_bytes("LOG_BUFFER_MAX_BYTES", v, minimum=2048))
    ] = Field(
        default=8 * 1024 * 1024,
        validation_alias="LOG_BUFFER_MAX_BYTES",
        description="memory bound per process (UTF-8 bytes + 26 per event); must hold one "
        "message of `LOG_MAX_MESSAGE_BYTES`",
        json_schema_extra={"shown": "8M"},
    )
    buffer_max_events: Annotated[
        int, _text(lambda v: _parse_int("LOG_BUFFER_MAX_EVENTS", v, 1, 10_000_000))
    ] = Field(
        default=20_000,
        validation_alias="LOG_BUFFER_MAX_EVENTS",
        description="memory bound in events, 1..10000000",
    )
    flush_interval: Annotated[float, _text(lambda v: parse_seconds("LOG_FLUSH_INTERVAL", v))] = (
        Field(
            default=5.0,
            validation_alias="LOG_FLUSH_INTERVAL",
            description="seconds between sends when batches do not fill up (> 0, at most a day)",
            json_schema_extra={"shown": "5"},
        )
    )
    shutdown_timeout: Annotated[
        float, _text(lambda v: parse_seconds("LOG_SHUTDOWN_TIMEOUT", v, allow_zero=True))
    ] = Field(
        default=10.0,
        validation_alias="LOG_SHUTDOWN_TIMEOUT",
        description="deadline of flush/close in seconds (gunicorn `worker_exit`, exit)",
        json_schema_extra={"shown": "10"},
    )
    stats_interval: Annotated[
        float, _text(lambda v: parse_seconds("LOG_STATS_INTERVAL", v, allow_zero=True))
    ] = Field(
        default=60.0,
        validation_alias="LOG_STATS_INTERVAL",
        description="seconds between `logship.stats` records; `0` disables",
        json_schema_extra={"shown": "60"},
    )
    max_message_bytes: Annotated[
        int,
        _text(
            lambda v: parse_bytes(
                "LOG_MAX_MESSAGE_BYTES",
                v,
                minimum=MIN_MESSAGE_BYTES,
                maximum=MAX_MESSAGE_BYTES_HARD,
            )
        ),
    ] = Field(
        default=DEFAULT_MAX_MESSAGE_BYTES,
        validation_alias="LOG_MAX_MESSAGE_BYTES",
        description=f"cap on one formatted record, {MIN_MESSAGE_BYTES} to "
        f"{MAX_MESSAGE_BYTES_HARD} bytes",
        json_schema_extra={"shown": "256K"},
    )
    region: Annotated[str | None, _text(_region)] = Field(
        default=None,
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        description="AWS region (`AWS_DEFAULT_REGION` when this is unset)",
    )
    stdout: Annotated[str, _text(_stdout)] = Field(
        default="always",
        validation_alias="LOG_STDOUT",
        description="`always`: every record also on stdout; `unshipped`: a process that ships "
        "to CloudWatch prints nothing (where stdout is collected too, as by ECS's awslogs "
        "driver; see docs/deploy.md)",
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(error_line(exc, type(self))) from None

    @model_validator(mode="after")
    def _buffer_holds_one_message(self) -> LogSettings:
        if self.buffer_max_bytes < self.max_message_bytes + EVENT_OVERHEAD_BYTES:
            raise ValueError(
                "LOG_BUFFER_MAX_BYTES: must hold at least one message of LOG_MAX_MESSAGE_BYTES "
                f"({self.max_message_bytes} + {EVENT_OVERHEAD_BYTES} bytes)"
            )
        return self

    def as_dict(self) -> dict[str, Any]:
        """Plain values by field name (for logging the effective configuration)."""
        return self.model_dump()

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
    return read_environment(LogSettings, env)
