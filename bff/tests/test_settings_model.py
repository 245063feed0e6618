"""The settings model, variable by variable: default, bounds, bad values, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bff.settings import Settings, SettingsError, load_settings
from logship.config import env_variables

ROOT = Path(__file__).resolve().parents[2]
BASE = {
    "BFF_UPSTREAM_CATALOG_URL": "http://127.0.0.1:8001",
    "BFF_UPSTREAM_ORDERS_URL": "http://127.0.0.1:8002",
}


def value(settings: Settings, path: str) -> Any:
    """``settings.a.b`` for ``"a.b"``."""
    found: Any = settings
    for part in path.split("."):
        found = getattr(found, part)
    return found


# variable, attribute, default, (accepted text, value) pairs at and inside the bounds,
# rejected texts, the words the one-line error must contain
NUMBERS: list[tuple[str, str, object, list[tuple[str, object]], list[str], str]] = [
    ("BFF_TRUSTED_PROXIES", "trusted_proxies", 0, [("0", 0), ("10", 10)], ["-1", "11", "1.5", "x"], "an integer between 0 and 10"),  # noqa: E501
    ("BFF_CIRCUIT_FAILURES", "circuit_failures", 5, [("1", 1), ("1000", 1000)], ["0", "1001", "lots"], "an integer between 1 and 1000"),  # noqa: E501
    ("BFF_CIRCUIT_RESET_SECONDS", "circuit_reset_seconds", 10.0, [("0.01", 0.01), ("3600", 3600.0)], ["0", "3601", "soon", "inf"], "a number between 0.01 and 3600"),  # noqa: E501
    ("BFF_POOL_MAXSIZE", "pool_maxsize", 64, [("1", 1), ("10000", 10_000)], ["0", "10001", "2.0"], "an integer between 1 and 10000"),  # noqa: E501
    ("BFF_POOL_IDLE_SECONDS", "pool_idle_seconds", 4.0, [("0.1", 0.1), ("3600", 3600.0)], ["0.05", "3601", "nan"], "a number between 0.1 and 3600"),  # noqa: E501
    ("BFF_READINESS_TIMEOUT", "readiness_timeout", 1.0, [("0.01", 0.01), ("30", 30.0)], ["0", "31", "x"], "a number between 0.01 and 30"),  # noqa: E501
    ("BFF_READINESS_CACHE_SECONDS", "readiness_cache_seconds", 2.0, [("0", 0.0), ("60", 60.0)], ["-1", "61"], "a number between 0 and 60"),  # noqa: E501
    ("BFF_OPS_CACHE_SECONDS", "ops_cache_seconds", 10.0, [("0", 0.0), ("300", 300.0)], ["-0.5", "301"], "a number between 0 and 300"),  # noqa: E501
    ("BFF_METRICS_INTERVAL", "metrics_interval", 60.0, [("0", 0.0), ("3600", 3600.0)], ["-1", "3601", "nan"], "a number between 0 and 3600"),  # noqa: E501
    ("BFF_SOURCEMAPS_CACHE_MAPS", "client_errors.sourcemaps_cache_maps", 64, [("1", 1), ("100000", 100_000)], ["0", "100001"], "an integer between 1 and 100000"),  # noqa: E501
    ("BFF_SOURCEMAPS_CACHE_MB", "client_errors.sourcemaps_cache_bytes", 64 * 2**20, [("1", 2**20), ("65536", 65_536 * 2**20)], ["0", "65537", "8M"], "an integer between 1 and 65536"),  # noqa: E501
    ("BFF_HEADER_TIMEOUT", "edge.header_timeout", 10.0, [("0.05", 0.05), ("3600", 3600.0)], ["0.01", "3601"], "a number between 0.05 and 3600"),  # noqa: E501
    ("BFF_BODY_TIMEOUT", "edge.body_timeout", 30.0, [("0.05", 0.05), ("3600", 3600.0)], ["0", "3601"], "a number between 0.05 and 3600"),  # noqa: E501
    ("BFF_KEEPALIVE_TIMEOUT", "edge.keepalive_timeout", 75.0, [("0.05", 0.05), ("3600", 3600.0)], ["0", "1e9"], "a number between 0.05 and 3600"),  # noqa: E501
    ("BFF_SEND_TIMEOUT", "edge.send_timeout", 30.0, [("0.05", 0.05), ("3600", 3600.0)], ["0", "3601"], "a number between 0.05 and 3600"),  # noqa: E501
    ("BFF_BODY_MIN_RATE", "edge.body_min_rate", 500, [("0", 0), ("1000000000", 10**9)], ["-1", "1000000001", "5e2"], "an integer between 0 and 1000000000"),  # noqa: E501
    ("BFF_PROXY_BUFFER_KB", "edge.proxy_buffer_bytes", 256 * 1024, [("16", 16 * 1024), ("1048576", 2**30)], ["15", "1048577"], "an integer between 16 and 1048576"),  # noqa: E501
    ("BFF_PROXY_MAX_TEMP_FILE_MB", "edge.proxy_max_temp_file_bytes", 2**30, [("0", 0), ("1048576", 2**40)], ["-1", "1048577"], "an integer between 0 and 1048576"),  # noqa: E501
    ("BFF_WORKERS", "server.workers", 2, [("1", 1), ("64", 64)], ["0", "65", "x", "5.0", "+3", "1_0"], "an integer between 1 and 64"),  # noqa: E501
    ("BFF_WORKER_CONNECTIONS", "server.worker_connections", 10_000, [("1", 1), ("100000", 100_000)], ["0", "100001"], "an integer between 1 and 100000"),  # noqa: E501
    ("BFF_GRACEFUL_TIMEOUT", "server.graceful_timeout", 20, [("1", 1), ("600", 600)], ["0", "601", "20s"], "an integer between 1 and 600"),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "path", "default", "good", "bad", "rule"), NUMBERS, ids=[row[0] for row in NUMBERS]
)
def test_numbers(
    name: str,
    path: str,
    default: object,
    good: list[tuple[str, object]],
    bad: list[str],
    rule: str,
) -> None:
    assert value(load_settings(BASE), path) == default
    assert value(load_settings({**BASE, name: "  "}), path) == default  # blank: unset
    for text, parsed in good:
        assert value(load_settings({**BASE, name: f" {text} "}), path) == parsed
    for text in bad:
        with pytest.raises(SettingsError) as info:
            load_settings({**BASE, name: text})
        assert str(info.value) == f"{name} must be {rule}, got {text!r}"


# variable, attribute, default, accepted (text, value) pairs, rejected texts, error words
TEXTS: list[tuple[str, str, object, list[tuple[str, object]], list[str], str]] = [
    ("BFF_ENV", "environment", "development", [("production", "production"), ("test", "test"), ("staging", "staging")], ["prod", "Production"], "BFF_ENV must be one of development, test, staging, production"),  # noqa: E501
    ("BFF_SERVICE_NAME", "service", "bff", [("edge", "edge")], [], ""),
    ("BFF_ROUTES_FILE", "routes_file", None, [], ["/nonexistent/routes.toml"], "BFF_ROUTES_FILE cannot be read"),  # noqa: E501
    ("BFF_OPS_TOKEN", "ops_token", None, [("t" * 32, "t" * 32)], ["changeme", "t" * 31, "t\tt" + "t" * 30], "BFF_OPS_TOKEN must be at least 32 printable characters"),  # noqa: E501
    ("BFF_CLIENT_ERRORS_RATE", "client_errors.rate", "60/minute", [("5 per second", "5 per second")], ["often", "10/fortnight"], "BFF_CLIENT_ERRORS_RATE must be a rate like 60/minute"),  # noqa: E501
    ("BFF_CLIENT_ERRORS_FINGERPRINT_RATE", "client_errors.fingerprint_rate", "100/minute", [("1/hour", "1/hour")], ["-1/minute"], "BFF_CLIENT_ERRORS_FINGERPRINT_RATE must be a rate"),  # noqa: E501
    ("BFF_VITALS_RATE", "client_errors.vitals_rate", "120/minute", [("2/second", "2/second")], ["x"], "BFF_VITALS_RATE must be a rate"),  # noqa: E501
    ("BFF_OPS_AUTH_RATE", "client_errors.ops_auth_rate", "10/minute", [("3/minute", "3/minute")], ["ten"], "BFF_OPS_AUTH_RATE must be a rate"),  # noqa: E501
    ("BFF_RATELIMIT_STORAGE_URI", "client_errors.ratelimit_storage_uri", "memory://", [("redis://cache:6379/1", "redis://cache:6379/1"), ("rediss://cache:6380/0", "rediss://cache:6380/0")], ["memcached://x", "redis:x"], "BFF_RATELIMIT_STORAGE_URI must be memory:// or redis(s)://"),  # noqa: E501
    ("BFF_SOURCEMAPS_DIR", "client_errors.sourcemaps_dir", None, [("/srv/maps", "/srv/maps")], ["maps"], "BFF_SOURCEMAPS_DIR must be an absolute path"),  # noqa: E501
    ("BFF_SOURCEMAPS_S3_URI", "client_errors.sourcemaps_s3_uri", None, [("s3://b/web", "s3://b/web")], ["https://b/web", "s3://b/p?x=1", "s3:///p"], "BFF_SOURCEMAPS_S3_URI must be s3://bucket/prefix"),  # noqa: E501
    ("BFF_SOURCEMAPS_S3_ENDPOINT", "client_errors.sourcemaps_s3_endpoint", None, [("http://127.0.0.1:4566", "http://127.0.0.1:4566")], ["localhost:4566"], "BFF_SOURCEMAPS_S3_ENDPOINT must be an http(s) URL"),  # noqa: E501
    ("BFF_CLIENT_ERRORS_SCRUB", "client_errors.scrub", True, [("off", False), ("0", False), ("no", False), ("false", False), ("on", True), ("YES", True)], ["maybe", "2"], "BFF_CLIENT_ERRORS_SCRUB must be true or false"),  # noqa: E501
    ("BFF_BIND", "server.bind", "127.0.0.1:8080", [("0.0.0.0:8080", "0.0.0.0:8080")], [], ""),
    ("BFF_WORKER_CLASS", "server.worker_class", "bff.proxy.server.Worker", [("gevent", "gevent")], [], ""),  # noqa: E501
    ("BFF_LOG_LEVEL", "server.log_level", "info", [("DEBUG", "debug"), ("warning", "warning")], ["loud", "trace"], "BFF_LOG_LEVEL must be one of debug, info, warning, error, critical"),  # noqa: E501
    ("LOG_CLOUDWATCH_CLIENT_ERRORS_STREAM", "server.client_errors_stream", "client-errors/{hostname}/{pid}", [("ce/{service}/{strftime:%Y-%m-%d}", "ce/{service}/{strftime:%Y-%m-%d}")], ["{nope}", "{logger_name}"], "LOG_CLOUDWATCH_CLIENT_ERRORS_STREAM: unknown or bad field"),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "path", "default", "good", "bad", "words"), TEXTS, ids=[row[0] for row in TEXTS]
)
def test_texts(
    name: str,
    path: str,
    default: object,
    good: list[tuple[str, object]],
    bad: list[str],
    words: str,
) -> None:
    assert value(load_settings(BASE), path) == default
    assert value(load_settings({**BASE, name: ""}), path) == default
    for text, parsed in good:
        assert value(load_settings({**BASE, name: text}), path) == parsed
    for text in bad:
        with pytest.raises(SettingsError) as info:
            load_settings({**BASE, name: text})
        message = str(info.value)
        assert message.startswith(words) and "\n" not in message, message


def test_every_variable_is_tested_here() -> None:
    """A field added to the model without a row above fails here."""
    tested = {row[0] for row in NUMBERS} | {row[0] for row in TEXTS}
    assert {name for name, _ in env_variables(Settings)} == tested


def test_every_variable_has_a_description() -> None:
    assert all(field.description for _, field in env_variables(Settings))


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("BFF_UPSTREAM_CATALOG_URL", "changeme"),
        ("BFF_UPSTREAM_ORDERS_URL", "TODO"),
        ("BFF_UPSTREAM_ORDERS_URL", "  "),
    ],
)
def test_upstream_urls_are_required_and_not_placeholders(name: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name} is required"):
        load_settings({**BASE, name: raw})


def test_source_map_stores_are_exclusive() -> None:
    with pytest.raises(SettingsError, match="^BFF_SOURCEMAPS_DIR and BFF_SOURCEMAPS_S3_URI"):
        load_settings({**BASE, "BFF_SOURCEMAPS_DIR": "/m", "BFF_SOURCEMAPS_S3_URI": "s3://b/p"})


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("BFF_RATELIMIT_STORAGE_URI", "memcached://cache:s3cret-pass@host:11211"),
        ("BFF_SOURCEMAPS_S3_ENDPOINT", "ftp://minio:s3cret-pass@host:9000"),
    ],
)
def test_refused_urls_are_quoted_without_their_password(name: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name} must be") as caught:
        load_settings({**BASE, name: raw})
    assert "s3cret-pass" not in str(caught.value)
    assert "host" in str(caught.value)


def test_unrelated_and_lowercase_variables_are_ignored() -> None:
    settings = load_settings({**BASE, "bff_workers": "x", "BFF_UNKNOWN": "1", "HOME": "/root"})
    assert settings.server.workers == 2


def test_the_model_built_in_code_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BFF_WORKERS", "7")
    monkeypatch.setenv("BFF_ENV", "production")
    settings = Settings()
    assert settings.server.workers == 2 and settings.environment == "development"
    assert load_settings({**os.environ, **BASE}).server.workers == 7


def test_settings_are_frozen_and_hide_the_token() -> None:
    settings = load_settings({**BASE, "BFF_OPS_TOKEN": "s" * 40})
    with pytest.raises(ValueError, match="frozen"):
        settings.trusted_proxies = 3  # type: ignore[misc]
    assert "s" * 40 not in repr(settings) and "s" * 40 not in str(settings)


def test_production_without_an_ops_token_is_allowed() -> None:
    """The ops API answers 404 then (bff.ops); the BFF itself starts."""
    settings = load_settings({**BASE, "BFF_ENV": "production"})
    assert settings.environment == "production" and settings.ops_token is None


# --- the real process ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "line"),
    [
        (
            "BFF_WORKERS",
            "x",
            "bff: configuration error: BFF_WORKERS must be an integer between 1 and 64, got 'x'",
        ),
        (
            "BFF_GRACEFUL_TIMEOUT",
            "0",
            "bff: configuration error: BFF_GRACEFUL_TIMEOUT must be an integer between 1 and "
            "600, got '0'",
        ),
        (
            "BFF_KEEPALIVE_TIMEOUT",
            "forever",
            "bff: configuration error: BFF_KEEPALIVE_TIMEOUT must be a number between 0.05 and "
            "3600, got 'forever'",
        ),
        (
            "LOG_BUFFER_MAX_EVENTS",
            "0",
            "bff: configuration error: LOG_BUFFER_MAX_EVENTS: must be within 1..10000000, got '0'",
        ),
    ],
)
def test_gunicorn_stops_with_one_line(tmp_path: Path, name: str, raw: str, line: str) -> None:
    """The real gunicorn master, as the image runs it: exit 2, one line, nothing else."""
    env = {
        **os.environ,
        **BASE,
        "BFF_BIND": "127.0.0.1:0",
        "PYTHONUNBUFFERED": "1",
        name: raw,
    }
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "gunicorn", "-c", "bff/gunicorn.conf.py", "bff:create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""


# --- the route table (TOML, one model per entry) ------------------------------------------

UPSTREAM_A = '[upstreams.a]\nhealth_path = "/h"\n'
ROUTE_R = '[[routes]]\nname="r"\nprefix="/api/r"\nupstream="a"\n'


@pytest.mark.parametrize(
    ("table", "line"),
    [
        pytest.param(
            "routes = [1]\n" + UPSTREAM_A, "routes[0] must be a table", id="entry-not-a-table"
        ),
        pytest.param(
            '[upstreams."a-b"]\n' + ROUTE_R,
            "upstream name 'a-b' must be alphanumeric with a table body",
            id="upstream-name",
        ),
        pytest.param(
            '[upstreams.a]\nhealth_path = "h"\n' + ROUTE_R,
            "upstreams.a.health_path must start with '/'",
            id="health-path",
        ),
        pytest.param(
            UPSTREAM_A + '[[routes]]\nprefix="/api/r"\nupstream="a"\n',
            "routes[0].name is required",
            id="no-name",
        ),
        pytest.param(
            UPSTREAM_A + ROUTE_R + "typo=1\nzeta=2\n",
            "routes[0] has unknown keys: typo, zeta",
            id="unknown-keys",
        ),
        pytest.param(
            UPSTREAM_A + ROUTE_R + 'read_timeout="5"\n',
            "route 'r'.read_timeout must be a number between 0.001 and 3600, got '5'",
            id="text-for-a-number",
        ),
        pytest.param(
            UPSTREAM_A + ROUTE_R + "retries=true\n",
            "route 'r'.retries must be an integer between 0 and 5, got True",
            id="bool-for-an-integer",
        ),
        pytest.param(
            UPSTREAM_A + ROUTE_R + "max_body_bytes=1.5\n",
            "route 'r'.max_body_bytes must be an integer between 0 and 1099511627776, got 1.5",
            id="fraction-of-a-byte",
        ),
        pytest.param(
            UPSTREAM_A + ROUTE_R + "read_timeout=inf\n",
            "route 'r'.read_timeout must be a number between 0.001 and 3600, got inf",
            id="infinite",
        ),
        pytest.param(
            UPSTREAM_A + ROUTE_R + "connect_timeout=5.0\ndeadline=1.0\n",
            "route 'r'.deadline must be at least connect_timeout",
            id="deadline-below-connect",
        ),
        pytest.param(
            UPSTREAM_A + ROUTE_R + 'chunked_requests="x"\n',
            "route 'r'.chunked_requests must be 'buffer' or 'stream'",
            id="chunked",
        ),
        pytest.param(
            UPSTREAM_A + ROUTE_R + "methods=[]\n",
            "route 'r'.methods must be a non-empty subset of ['DELETE', 'GET', 'HEAD', "
            "'OPTIONS', 'PATCH', 'POST', 'PUT']",
            id="no-methods",
        ),
        pytest.param(
            UPSTREAM_A + ROUTE_R + 'upstream_prefix="x/"\n',
            "route 'r'.upstream_prefix must start with '/' and not end with '/': 'x/'",
            id="upstream-prefix",
        ),
        pytest.param(
            UPSTREAM_A + '[[routes]]\nname="r"\nprefix="/api/%2e"\nupstream="a"\n',
            "route 'r'.prefix must be a plain canonical path: '/api/%2e'",
            id="escaped-prefix",
        ),
        pytest.param(
            UPSTREAM_A + ROUTE_R + '[[routes]]\nname="r"\nprefix="/api/s"\nupstream="a"\n',
            "route 'r': duplicate name or prefix '/api/s'",
            id="duplicate-name",
        ),
    ],
)
def test_route_table_errors_are_one_line(tmp_path: Path, table: str, line: str) -> None:
    path = tmp_path / "routes.toml"
    path.write_text(table, encoding="utf-8")
    env = {"BFF_ROUTES_FILE": str(path), "BFF_UPSTREAM_A_URL": "http://h"}
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert str(info.value) == line


def test_route_defaults(tmp_path: Path) -> None:
    path = tmp_path / "routes.toml"
    path.write_text(UPSTREAM_A + ROUTE_R, encoding="utf-8")
    (route,) = load_settings(
        {"BFF_ROUTES_FILE": str(path), "BFF_UPSTREAM_A_URL": "http://h"}
    ).routes
    assert route.methods == {"GET", "HEAD"} and route.upstream_prefix == ""
    assert (route.connect_timeout, route.read_timeout, route.deadline) == (1.0, 10.0, 30.0)
    assert (route.retries, route.retry_backoff, route.retry_on_status) == (1, 0.05, frozenset())
    assert (route.max_body_bytes, route.chunked_requests) == (1_048_576, "buffer")
    assert route.upstream.health_path == "/h" and route.upstream.origin == "http://h:80"
