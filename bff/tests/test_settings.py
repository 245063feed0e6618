from __future__ import annotations

from pathlib import Path

import pytest
from bff.settings import SettingsError, load_settings

from .conftest import routes_file

BASE = {
    "BFF_UPSTREAM_CATALOG_URL": "http://127.0.0.1:8001",
    "BFF_UPSTREAM_ORDERS_URL": "http://orders.internal:8002/base/",
}


def test_defaults_parse() -> None:
    s = load_settings(BASE)
    assert [r.name for r in s.routes] == ["catalog", "orders"]
    orders = s.upstreams["orders"]
    assert (orders.host, orders.port, orders.base_path) == ("orders.internal", 8002, "/base")
    assert s.routes[1].target_prefix == "/base/orders"
    assert s.trusted_proxies == 0 and s.environment == "development"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {"BFF_UPSTREAM_CATALOG_URL": None},
            "BFF_UPSTREAM_CATALOG_URL is required",
            id="missing-url",
        ),
        pytest.param(
            {"BFF_UPSTREAM_CATALOG_URL": "changeme"}, "BFF_UPSTREAM_CATALOG_URL", id="placeholder"
        ),
        pytest.param({"BFF_UPSTREAM_CATALOG_URL": "ftp://x"}, "http(s) URL", id="scheme"),
        pytest.param({"BFF_UPSTREAM_CATALOG_URL": "http://"}, "http(s) URL", id="no-host"),
        pytest.param({"BFF_UPSTREAM_CATALOG_URL": "http://u:p@h"}, "credentials", id="creds"),
        pytest.param({"BFF_UPSTREAM_CATALOG_URL": "http://h:99999"}, "invalid port", id="port"),
        pytest.param(
            {"BFF_TRUSTED_PROXIES": "x"}, "BFF_TRUSTED_PROXIES must be an integer", id="not-int"
        ),
        pytest.param({"BFF_TRUSTED_PROXIES": "-1"}, "between", id="negative"),
        pytest.param({"BFF_CIRCUIT_RESET_SECONDS": "soon"}, "must be a number", id="not-number"),
        pytest.param({"BFF_ENV": "prod"}, "BFF_ENV must be one of", id="env"),
        pytest.param(
            {"BFF_ROUTES_FILE": "/nonexistent/routes.toml"}, "cannot be read", id="routes-file"
        ),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str | None], message: str) -> None:
    merged = {**BASE, **env}
    clean = {k: v for k, v in merged.items() if v is not None}
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(clean)


UPSTREAM = '[upstreams.a]\nhealth_path = "/h"\n'


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param("not toml [", "not valid TOML", id="syntax"),
        pytest.param("", "at least one", id="empty"),
        pytest.param(UPSTREAM, "at least one \\[\\[routes\\]\\]", id="no-routes"),
        pytest.param(
            UPSTREAM + '[[routes]]\nname="r"\nprefix="/api/r"\nupstream="b"\n',
            "not a declared upstream",
            id="unknown-upstream",
        ),
        pytest.param(
            UPSTREAM + '[[routes]]\nname="r"\nprefix="/api/r"\nupstream="a"\ntypo=1\n',
            "unknown keys: typo",
            id="unknown-key",
        ),
        pytest.param(
            UPSTREAM + '[[routes]]\nname="r"\nprefix="/r"\nupstream="a"\n',
            "under /api",
            id="outside-api",
        ),
        pytest.param(
            UPSTREAM + '[[routes]]\nname="r"\nprefix="/api/r/"\nupstream="a"\n',
            "not end with",
            id="trailing-slash",
        ),
        pytest.param(
            UPSTREAM + '[[routes]]\nname="r"\nprefix="/api/../r"\nupstream="a"\n',
            "canonical",
            id="dot-prefix",
        ),
        pytest.param(
            UPSTREAM + '[[routes]]\nname="r"\nprefix="/api/r"\nupstream="a"\n'
            'methods=["GET","BREW"]\n',
            "methods",
            id="bad-method",
        ),
        pytest.param(
            UPSTREAM + '[[routes]]\nname="r"\nprefix="/api/r"\nupstream="a"\nread_timeout=-1\n',
            "read_timeout",
            id="negative-timeout",
        ),
        pytest.param(
            UPSTREAM + '[[routes]]\nname="r"\nprefix="/api/r"\nupstream="a"\n'
            "retry_on_status=[404]\n",
            "5xx",
            id="retry-4xx",
        ),
        pytest.param(
            UPSTREAM + '[[routes]]\nname="r"\nprefix="/api/r"\nupstream="a"\n'
            '[[routes]]\nname="s"\nprefix="/api/r"\nupstream="a"\n',
            "duplicate",
            id="duplicate-prefix",
        ),
    ],
)
def test_bad_route_tables(tmp_path: Path, table: str, message: str) -> None:
    env = {"BFF_ROUTES_FILE": routes_file(tmp_path, table), "BFF_UPSTREAM_A_URL": "http://h"}
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_longest_prefix_first(tmp_path: Path) -> None:
    table = UPSTREAM + (
        '[[routes]]\nname="short"\nprefix="/api/x"\nupstream="a"\n'
        '[[routes]]\nname="long"\nprefix="/api/x/y"\nupstream="a"\n'
    )
    env = {"BFF_ROUTES_FILE": routes_file(tmp_path, table), "BFF_UPSTREAM_A_URL": "http://h"}
    assert [r.name for r in load_settings(env).routes] == ["long", "short"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {"BFF_SOURCEMAPS_DIR": "/a", "BFF_SOURCEMAPS_S3_URI": "s3://b/p"},
            "exclusive",
            id="maps-both",
        ),
        pytest.param({"BFF_SOURCEMAPS_DIR": "relative/maps"}, "BFF_SOURCEMAPS_DIR", id="maps-rel"),
        pytest.param({"BFF_SOURCEMAPS_S3_URI": "https://b/p"}, "BFF_SOURCEMAPS_S3_URI", id="s3"),
        pytest.param(
            {"BFF_SOURCEMAPS_S3_ENDPOINT": "localhost:4566"},
            "BFF_SOURCEMAPS_S3_ENDPOINT",
            id="s3-endpoint",
        ),
        pytest.param({"BFF_SOURCEMAPS_CACHE_MAPS": "0"}, "BFF_SOURCEMAPS_CACHE_MAPS", id="cache"),
        pytest.param({"BFF_CLIENT_ERRORS_SCRUB": "maybe"}, "BFF_CLIENT_ERRORS_SCRUB", id="scrub"),
        pytest.param({"BFF_CLIENT_ERRORS_RATE": "often"}, "BFF_CLIENT_ERRORS_RATE", id="rate"),
    ],
)
def test_bad_ingest_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**BASE, **env})


def test_ingest_settings_parse() -> None:
    ingest = load_settings(
        {
            **BASE,
            "BFF_SOURCEMAPS_S3_URI": "s3://maps/web",
            "BFF_SOURCEMAPS_CACHE_MB": "8",
            "BFF_CLIENT_ERRORS_SCRUB": "off",
            "BFF_RATELIMIT_STORAGE_URI": "redis://cache:6379/1",
        }
    ).client_errors
    assert ingest.sourcemaps_s3_uri == "s3://maps/web" and ingest.sourcemaps_dir is None
    assert ingest.sourcemaps_cache_bytes == 8 * 1024 * 1024
    assert ingest.scrub is False
    assert ingest.ratelimit_storage_uri == "redis://cache:6379/1"
