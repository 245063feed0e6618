"""The LOG_* settings model, variable by variable, and the machinery services share."""

from __future__ import annotations

import logging
from typing import Annotated

import pytest
from logship.config import (
    DEFAULT_SPOOL_DIR,
    ConfigError,
    LogSettings,
    WholeNumber,
    env_variables,
    parse_env,
    read_environment,
)
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# variable, attribute, default, accepted (text, value) pairs, rejected texts
ROWS: list[tuple[str, str, object, list[tuple[str, object]], list[str]]] = [
    ("LOG_LEVEL", "level", logging.INFO, [("debug", logging.DEBUG), ("WARN", logging.WARNING), ("fatal", logging.CRITICAL), ("0", 0), ("100", 100)], ["verbose", "101", "-1"]),  # noqa: E501
    ("LOG_SERVICE", "service", None, [("bff", "bff")], []),
    ("LOG_ENVIRONMENT", "environment", None, [("prod", "prod")], []),
    ("LOG_CLOUDWATCH_GROUP", "cloudwatch_group", None, [("/app/bff#1", "/app/bff#1"), ("g" * 512, "g" * 512)], ["bad group", "g" * 513, "a:b"]),  # noqa: E501
    ("LOG_CLOUDWATCH_STREAM", "stream_template", "{service}/{hostname}/{pid}", [("{environment}/{strftime:%Y}", "{environment}/{strftime:%Y}")], ["{nope}", "{0}"]),  # noqa: E501
    ("LOG_CLOUDWATCH_ENDPOINT", "endpoint_url", None, [("https://logs.example", "https://logs.example")], ["localhost:4566", "ftp://x"]),  # noqa: E501
    ("LOG_CLOUDWATCH_CREATE_GROUP", "create_group", False, [("yes", True), ("1", True), ("off", False)], ["maybe", "2"]),  # noqa: E501
    ("LOG_CLOUDWATCH_RETENTION_DAYS", "retention_days", None, [("1", 1), ("3653", 3653), ("30", 30)], ["10", "0", "3654", "x"]),  # noqa: E501
    ("LOG_SPOOL_DIR", "spool_dir", DEFAULT_SPOOL_DIR, [("/var/spool/x", "/var/spool/x"), ("off", None), ("None", None)], []),  # noqa: E501
    ("LOG_SPOOL_MAX_BYTES", "spool_max_bytes", 100 * 2**20, [("64K", 64 * 1024), ("1G", 2**30)], ["63K", "lots", "-1"]),  # noqa: E501
    ("LOG_BUFFER_MAX_BYTES", "buffer_max_bytes", 8 * 2**20, [("300K", 300 * 1024)], ["2047", "-5", "1.5M"]),  # noqa: E501
    ("LOG_BUFFER_MAX_EVENTS", "buffer_max_events", 20_000, [("1", 1), ("10000000", 10_000_000)], ["0", "10000001", "1.5"]),  # noqa: E501
    ("LOG_FLUSH_INTERVAL", "flush_interval", 5.0, [("1ms", 0.001), ("24h", 86_400.0), ("2.5", 2.5)], ["0", "25h", "soon", "-1"]),  # noqa: E501
    ("LOG_SHUTDOWN_TIMEOUT", "shutdown_timeout", 10.0, [("0", 0.0), ("1m", 60.0)], ["-1", "2d"]),
    ("LOG_STATS_INTERVAL", "stats_interval", 60.0, [("0", 0.0), ("500ms", 0.5)], ["2d", "often"]),
    ("LOG_MAX_MESSAGE_BYTES", "max_message_bytes", 256 * 1024, [("1024", 1024), ("1048550", 1_048_550)], ["1023", "1048551", "2M"]),  # noqa: E501
    ("AWS_REGION", "region", None, [("eu-west-1", "eu-west-1")], ["Not A Region", "x"]),
    ("LOG_STDOUT", "stdout", "always", [("Unshipped", "unshipped"), ("always", "always")], ["sometimes"]),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(("name", "attr", "default", "good", "bad"), ROWS, ids=[r[0] for r in ROWS])
def test_variable(
    name: str, attr: str, default: object, good: list[tuple[str, object]], bad: list[str]
) -> None:
    assert getattr(parse_env({}), attr) == default
    assert getattr(parse_env({name: " \t"}), attr) == default  # blank counts as unset
    for text, parsed in good:
        assert getattr(parse_env({name: f" {text} "}), attr) == parsed
    for text in bad:
        with pytest.raises(ConfigError) as info:
            parse_env({name: text})
        message = str(info.value)
        assert message.startswith(f"{name}: ") and "\n" not in message, message


def test_every_variable_is_tested_here_and_described() -> None:
    assert [name for name, _ in env_variables(LogSettings)] == [row[0] for row in ROWS]
    assert all(field.description for _, field in env_variables(LogSettings))


def test_default_region_is_the_fallback() -> None:
    assert parse_env({"AWS_DEFAULT_REGION": "eu-west-1"}).region == "eu-west-1"
    assert parse_env({"AWS_REGION": " ", "AWS_DEFAULT_REGION": "eu-west-1"}).region == "eu-west-1"


def test_built_in_code_it_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("LOG_CLOUDWATCH_GROUP", "/from/env")
    settings = LogSettings(max_message_bytes=2048)
    assert settings.level == logging.INFO and settings.cloudwatch_group is None


def test_values_in_code_are_typed_and_the_buffer_rule_holds() -> None:
    assert LogSettings(flush_interval=1).flush_interval == 1.0
    with pytest.raises(ConfigError, match="^LOG_BUFFER_MAX_BYTES: must hold"):
        LogSettings(buffer_max_bytes=4096, max_message_bytes=8192)
    with pytest.raises(ConfigError) as info:
        LogSettings(buffer_max_events="many")
    assert "\n" not in str(info.value)


def test_as_dict_round_trips() -> None:
    settings = parse_env({"LOG_LEVEL": "debug", "LOG_SPOOL_DIR": "off", "AWS_REGION": "eu-west-1"})
    assert LogSettings(**settings.as_dict()) == settings


def test_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        parse_env({}).level = 5  # type: ignore[misc]


# --- read_environment and error_line on a model of another service -----------------------


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, validate_by_name=True)

    count: WholeNumber = Field(default=3, ge=1, le=9, validation_alias="X_COUNT")
    ratio: float = Field(default=0.5, gt=0, lt=1, validation_alias="X_RATIO")


def _even(value: int) -> int:
    if value % 2:
        raise ValueError("must be even")
    return value


class Sample(BaseModel):
    model_config = ConfigDict(frozen=True, validate_by_name=True, allow_inf_nan=False)

    flag: bool = Field(default=False, validation_alias="X_FLAG")
    even: Annotated[int, AfterValidator(_even)] = Field(default=2, validation_alias="X_EVEN")
    size: int | None = Field(default=None, ge=0, validation_alias="X_SIZE")
    section: Section = Section()


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"X_COUNT": "10"}, "X_COUNT must be an integer between 1 and 9, got '10'"),
        ({"X_COUNT": "2.0"}, "X_COUNT must be an integer between 1 and 9, got '2.0'"),
        ({"X_RATIO": "1"}, "X_RATIO must be a number between 0 and 1, got '1'"),
        ({"X_RATIO": "nan"}, "X_RATIO must be a number between 0 and 1, got 'nan'"),
        ({"X_FLAG": "perhaps"}, "X_FLAG must be true or false, got 'perhaps'"),
        ({"X_EVEN": "3"}, "X_EVEN: must be even"),
        ({"X_SIZE": "-1"}, "X_SIZE must be an integer of at least 0, got '-1'"),
    ],
)
def test_one_line_errors(env: dict[str, str], line: str) -> None:
    with pytest.raises(ConfigError) as info:
        read_environment(Sample, env)
    assert str(info.value) == line


def test_read_environment_reads_sections_and_its_error_class() -> None:
    sample = read_environment(Sample, {"X_COUNT": "4", "X_FLAG": "on", "X_SIZE": " 7 "})
    assert (sample.section.count, sample.flag, sample.size) == (4, True, 7)
    with pytest.raises(KeyError):
        read_environment(Sample, {"X_COUNT": "x"}, KeyError)
