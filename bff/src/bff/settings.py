"""Typed settings, parsed once from ``BFF_*`` environment variables by a pure function."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
ENVIRONMENTS = ("development", "test", "staging", "production")
PLACEHOLDERS = frozenset({"", "changeme", "change-me", "todo", "xxx", "placeholder"})


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Upstream:
    """One upstream service the BFF may contact: the only hosts it ever talks to."""

    name: str
    scheme: str
    host: str
    port: int
    base_path: str
    health_path: str

    @property
    def origin(self) -> str:
        """``scheme://host:port`` of the upstream."""
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Route:
    """A proxied path prefix and the policy that applies to it."""

    name: str
    prefix: str
    upstream: Upstream
    upstream_prefix: str
    methods: frozenset[str]
    max_body_bytes: int = 1_048_576
    connect_timeout: float = 1.0
    read_timeout: float = 10.0
    deadline: float = 30.0
    retries: int = 1
    retry_backoff: float = 0.05
    retry_on_status: frozenset[int] = frozenset()
    chunked_requests: str = "buffer"

    @property
    def target_prefix(self) -> str:
        """Path prefix on the upstream (the upstream's base path joined with the route's)."""
        return self.upstream.base_path + self.upstream_prefix


@dataclass(frozen=True, slots=True)
class ClientErrorSettings:
    """Client-error and web-vitals ingest: rate limits, source maps, scrubbing."""

    rate: str = "60/minute"
    fingerprint_rate: str = "100/minute"
    vitals_rate: str = "120/minute"
    ops_auth_rate: str = "10/minute"
    ratelimit_storage_uri: str = "memory://"
    sourcemaps_dir: str | None = None
    sourcemaps_s3_uri: str | None = None
    sourcemaps_s3_endpoint: str | None = None
    sourcemaps_cache_maps: int = 64
    sourcemaps_cache_bytes: int = 64 * 1024 * 1024
    scrub: bool = True


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    """The HTTP server's limits and timeouts (docs/proxy.md, "Security", says what each bounds)."""

    header_timeout: float = 10.0  # a request head must be complete this long after its first byte
    body_timeout: float = 30.0  # longest wait for the next piece of a request body
    keepalive_timeout: float = 75.0  # idle keep-alive connection (above the ALB's 60 s)
    send_timeout: float = 30.0  # longest a write to a client that does not read may block
    body_min_rate: int = 500  # bytes/s a body must average after body_timeout (0: no floor)
    max_request_line: int = 8190
    max_header_fields: int = 100
    max_header_line: int = 8190
    max_head_bytes: int = 65_536
    proxy_buffer_bytes: int = 262_144  # a proxied response held in memory per request
    proxy_max_temp_file_bytes: int = 1_073_741_824  # then on disk, so the upstream is freed


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the BFF needs to run; build it with :func:`load_settings`."""

    environment: str = "development"
    service: str = "bff"
    routes: tuple[Route, ...] = ()
    upstreams: Mapping[str, Upstream] = field(default_factory=dict)
    trusted_proxies: int = 0
    circuit_failures: int = 5
    circuit_reset_seconds: float = 10.0
    pool_maxsize: int = 64
    pool_idle_seconds: float = 4.0
    readiness_timeout: float = 1.0
    readiness_cache_seconds: float = 2.0
    client_errors: ClientErrorSettings = field(default_factory=ClientErrorSettings)
    ops_token: str | None = field(default=None, repr=False)  # never printed
    ops_cache_seconds: float = 10.0
    edge: EdgeSettings = field(default_factory=EdgeSettings)
    metrics_interval: float = 0.0  # seconds between EMF flushes per worker; 0: metrics off


_N = TypeVar("_N", int, float)


def _env_number(env: Mapping[str, str], name: str, default: _N, low: _N, high: _N) -> _N:
    """``env[name]`` parsed as the type of ``default`` and held to ``[low, high]``."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    kind = type(default)
    try:
        value = kind(raw)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise SettingsError(f"{name} must be {noun}, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def parse_upstream_url(name: str, variable: str, raw: str | None, health_path: str) -> Upstream:
    """Parse ``http(s)://host[:port][/base]`` into an :class:`Upstream`, rejecting anything else."""
    if raw is None or raw.strip().lower() in PLACEHOLDERS:
        raise SettingsError(f"{variable} is required (base URL of upstream {name!r})")
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{variable} must be an http(s) URL with a host, got {raw!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SettingsError(f"{variable} must not carry credentials, a query or a fragment")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise SettingsError(f"{variable} has an invalid port: {raw!r}") from None
    return Upstream(
        name=name,
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        base_path=parts.path.rstrip("/"),
        health_path=health_path,
    )


def _check_prefix(where: str, value: Any, *, allow_empty: bool) -> str:
    if not isinstance(value, str) or (not value and not allow_empty):
        raise SettingsError(f"{where} must be a path string")
    if value and (not value.startswith("/") or value.endswith("/") or "//" in value):
        raise SettingsError(f"{where} must start with '/' and not end with '/': {value!r}")
    if any(seg in (".", "..") for seg in value.split("/")) or "\\" in value or "%" in value:
        raise SettingsError(f"{where} must be a plain canonical path: {value!r}")
    return value


_ROUTE_KEYS = {
    "name",
    "prefix",
    "upstream",
    "upstream_prefix",
    "methods",
    "max_body_bytes",
    "connect_timeout",
    "read_timeout",
    "deadline",
    "retries",
    "retry_backoff",
    "retry_on_status",
    "chunked_requests",
}


def _number(where: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise SettingsError(f"{where} must be a number between {low} and {high}, got {value!r}")
    return float(value)


def _parse_route(index: int, raw: Any, upstreams: Mapping[str, Upstream]) -> Route:
    where = f"routes[{index}]"
    if not isinstance(raw, dict):
        raise SettingsError(f"{where} must be a table")
    unknown = set(raw) - _ROUTE_KEYS
    if unknown:
        raise SettingsError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise SettingsError(f"{where}.name is required")
    where = f"route {name!r}"
    upstream_name = raw.get("upstream")
    if not isinstance(upstream_name, str) or upstream_name not in upstreams:
        raise SettingsError(f"{where}.upstream {upstream_name!r} is not a declared upstream")
    methods = raw.get("methods", ["GET", "HEAD"])
    if not isinstance(methods, list) or not methods or not set(methods) <= HTTP_METHODS:
        raise SettingsError(f"{where}.methods must be a non-empty subset of {sorted(HTTP_METHODS)}")
    statuses = raw.get("retry_on_status", [])
    if not isinstance(statuses, list) or not all(
        isinstance(s, int) and 500 <= s <= 599 for s in statuses
    ):
        raise SettingsError(f"{where}.retry_on_status must list 5xx status codes")
    chunked_requests = raw.get("chunked_requests", "buffer")
    if chunked_requests not in ("buffer", "stream"):
        raise SettingsError(f"{where}.chunked_requests must be 'buffer' or 'stream'")
    connect = _number(f"{where}.connect_timeout", raw.get("connect_timeout", 1.0), 0.001, 60)
    read = _number(f"{where}.read_timeout", raw.get("read_timeout", 10.0), 0.001, 3600)
    deadline = _number(f"{where}.deadline", raw.get("deadline", 30.0), 0.001, 3600)
    if deadline < connect:
        raise SettingsError(f"{where}.deadline must be at least connect_timeout")
    return Route(
        name=name,
        prefix=_check_prefix(f"{where}.prefix", raw.get("prefix"), allow_empty=False),
        upstream=upstreams[upstream_name],
        upstream_prefix=_check_prefix(
            f"{where}.upstream_prefix", raw.get("upstream_prefix", ""), allow_empty=True
        ),
        methods=frozenset(methods),
        max_body_bytes=int(
            _number(f"{where}.max_body_bytes", raw.get("max_body_bytes", 1_048_576), 0, 2**40)
        ),
        connect_timeout=connect,
        read_timeout=read,
        deadline=deadline,
        retries=int(_number(f"{where}.retries", raw.get("retries", 1), 0, 5)),
        retry_backoff=_number(f"{where}.retry_backoff", raw.get("retry_backoff", 0.05), 0, 5),
        retry_on_status=frozenset(statuses),
        chunked_requests=chunked_requests,
    )


def parse_route_table(
    document: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[tuple[Route, ...], dict[str, Upstream]]:
    """Build routes and upstreams from a parsed TOML document; URLs come from the environment."""
    raw_upstreams = document.get("upstreams", {})
    if not isinstance(raw_upstreams, dict) or not raw_upstreams:
        raise SettingsError("the route table must declare at least one [upstreams.<name>]")
    upstreams: dict[str, Upstream] = {}
    for name, spec in raw_upstreams.items():
        if not name.replace("_", "").isalnum() or not isinstance(spec, dict):
            raise SettingsError(f"upstream name {name!r} must be alphanumeric with a table body")
        health = spec.get("health_path", "/healthz")
        if not isinstance(health, str) or not health.startswith("/"):
            raise SettingsError(f"upstreams.{name}.health_path must start with '/'")
        variable = f"BFF_UPSTREAM_{name.upper()}_URL"
        upstreams[name] = parse_upstream_url(name, variable, env.get(variable), health)
    raw_routes = document.get("routes", [])
    if not isinstance(raw_routes, list) or not raw_routes:
        raise SettingsError("the route table must declare at least one [[routes]] entry")
    routes = [_parse_route(i, r, upstreams) for i, r in enumerate(raw_routes)]
    seen: set[str] = set()
    for route in routes:
        if route.prefix in seen or route.name in {r.name for r in routes if r is not route}:
            raise SettingsError(f"route {route.name!r}: duplicate name or prefix {route.prefix!r}")
        if not route.prefix.startswith("/api/") and route.prefix != "/api":
            raise SettingsError(f"route {route.name!r}: prefix must live under /api")
        seen.add(route.prefix)
    # Longest prefix first so that /api/a/b wins over /api/a.
    routes.sort(key=lambda r: len(r.prefix), reverse=True)
    return tuple(routes), upstreams


def load_route_document(path: str | None) -> dict[str, Any]:
    """Read the route table TOML from ``path``, or the packaged default when ``path`` is None."""
    try:
        if path is None:
            text = resources.files("bff").joinpath("routes.toml").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        return tomllib.loads(text)
    except OSError as exc:
        raise SettingsError(f"BFF_ROUTES_FILE cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"BFF_ROUTES_FILE is not valid TOML: {exc}") from None


def parse_ops_token(raw: str | None) -> str | None:
    """``BFF_OPS_TOKEN``: unset or empty means none; otherwise 32+ characters, no placeholder."""
    if raw is None or raw.strip() == "":
        return None
    token = raw.strip()
    if token.lower() in PLACEHOLDERS or len(token) < 32 or not token.isprintable():
        raise SettingsError(
            "BFF_OPS_TOKEN must be at least 32 printable characters, not a placeholder"
        )
    return token


def _env_rate(env: Mapping[str, str], name: str, default: str) -> str:
    """A rate limit such as ``60/minute`` or ``10 per second``."""
    from limits import parse

    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        parse(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a rate like 60/minute, got {raw!r}") from None
    return raw


def parse_client_error_settings(env: Mapping[str, str]) -> ClientErrorSettings:
    """The ingest settings: ``BFF_CLIENT_ERRORS_*``, ``BFF_VITALS_RATE``, ``BFF_RATELIMIT_*``,
    ``BFF_SOURCEMAPS_*``."""
    storage = (env.get("BFF_RATELIMIT_STORAGE_URI") or "").strip() or "memory://"
    scheme = urlsplit(storage).scheme
    if scheme not in ("memory", "redis", "rediss") or (scheme != "memory" and "//" not in storage):
        raise SettingsError(
            "BFF_RATELIMIT_STORAGE_URI must be memory:// or redis(s)://host:port/db, "
            f"got {storage!r}"
        )
    maps_dir = (env.get("BFF_SOURCEMAPS_DIR") or "").strip() or None
    s3_uri = (env.get("BFF_SOURCEMAPS_S3_URI") or "").strip() or None
    if maps_dir and s3_uri:
        raise SettingsError("BFF_SOURCEMAPS_DIR and BFF_SOURCEMAPS_S3_URI are exclusive: set one")
    if maps_dir is not None and not Path(maps_dir).is_absolute():
        raise SettingsError(f"BFF_SOURCEMAPS_DIR must be an absolute path, got {maps_dir!r}")
    if s3_uri is not None:
        parts = urlsplit(s3_uri)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise SettingsError(f"BFF_SOURCEMAPS_S3_URI must be s3://bucket/prefix, got {s3_uri!r}")
    endpoint = (env.get("BFF_SOURCEMAPS_S3_ENDPOINT") or "").strip() or None
    if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
        raise SettingsError(f"BFF_SOURCEMAPS_S3_ENDPOINT must be an http(s) URL, got {endpoint!r}")
    scrub_raw = (env.get("BFF_CLIENT_ERRORS_SCRUB") or "1").strip().lower()
    if scrub_raw not in ("1", "0", "true", "false", "on", "off", "yes", "no"):
        raise SettingsError(f"BFF_CLIENT_ERRORS_SCRUB must be true or false, got {scrub_raw!r}")
    return ClientErrorSettings(
        rate=_env_rate(env, "BFF_CLIENT_ERRORS_RATE", "60/minute"),
        fingerprint_rate=_env_rate(env, "BFF_CLIENT_ERRORS_FINGERPRINT_RATE", "100/minute"),
        vitals_rate=_env_rate(env, "BFF_VITALS_RATE", "120/minute"),
        ops_auth_rate=_env_rate(env, "BFF_OPS_AUTH_RATE", "10/minute"),
        ratelimit_storage_uri=storage,
        sourcemaps_dir=maps_dir,
        sourcemaps_s3_uri=s3_uri,
        sourcemaps_s3_endpoint=endpoint,
        sourcemaps_cache_maps=_env_number(env, "BFF_SOURCEMAPS_CACHE_MAPS", 64, 1, 100_000),
        sourcemaps_cache_bytes=_env_number(env, "BFF_SOURCEMAPS_CACHE_MB", 64, 1, 65_536)
        * 1024
        * 1024,
        scrub=scrub_raw in ("1", "true", "on", "yes"),
    )


def parse_edge_settings(env: Mapping[str, str]) -> EdgeSettings:
    """The server's timeouts and limits: ``BFF_HEADER_TIMEOUT``, ``BFF_BODY_TIMEOUT``,
    ``BFF_KEEPALIVE_TIMEOUT``, ``BFF_SEND_TIMEOUT``, ``BFF_BODY_MIN_RATE``, ``BFF_PROXY_BUFFER_KB``,
    ``BFF_PROXY_MAX_TEMP_FILE_MB``."""
    return EdgeSettings(
        header_timeout=_env_number(env, "BFF_HEADER_TIMEOUT", 10.0, 0.05, 3600),
        body_timeout=_env_number(env, "BFF_BODY_TIMEOUT", 30.0, 0.05, 3600),
        keepalive_timeout=_env_number(env, "BFF_KEEPALIVE_TIMEOUT", 75.0, 0.05, 3600),
        send_timeout=_env_number(env, "BFF_SEND_TIMEOUT", 30.0, 0.05, 3600),
        body_min_rate=_env_number(env, "BFF_BODY_MIN_RATE", 500, 0, 1_000_000_000),
        proxy_buffer_bytes=_env_number(env, "BFF_PROXY_BUFFER_KB", 256, 16, 1_048_576) * 1024,
        proxy_max_temp_file_bytes=_env_number(env, "BFF_PROXY_MAX_TEMP_FILE_MB", 1024, 0, 1_048_576)
        * 1_048_576,
    )


def load_settings(env: Mapping[str, str]) -> Settings:
    """Parse and validate every ``BFF_*`` variable; :class:`SettingsError` names the bad one."""
    environment = env.get("BFF_ENV", "development").strip() or "development"
    if environment not in ENVIRONMENTS:
        raise SettingsError(
            f"BFF_ENV must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}"
        )
    routes_file = env.get("BFF_ROUTES_FILE") or None
    routes, upstreams = parse_route_table(load_route_document(routes_file), env)
    return Settings(
        environment=environment,
        service=env.get("BFF_SERVICE_NAME", "bff").strip() or "bff",
        routes=routes,
        upstreams=upstreams,
        trusted_proxies=_env_number(env, "BFF_TRUSTED_PROXIES", 0, 0, 10),
        circuit_failures=_env_number(env, "BFF_CIRCUIT_FAILURES", 5, 1, 1000),
        circuit_reset_seconds=_env_number(env, "BFF_CIRCUIT_RESET_SECONDS", 10.0, 0.01, 3600),
        pool_maxsize=_env_number(env, "BFF_POOL_MAXSIZE", 64, 1, 10_000),
        pool_idle_seconds=_env_number(env, "BFF_POOL_IDLE_SECONDS", 4.0, 0.1, 3600),
        readiness_timeout=_env_number(env, "BFF_READINESS_TIMEOUT", 1.0, 0.01, 30),
        readiness_cache_seconds=_env_number(env, "BFF_READINESS_CACHE_SECONDS", 2.0, 0, 60),
        client_errors=parse_client_error_settings(env),
        ops_token=parse_ops_token(env.get("BFF_OPS_TOKEN")),
        ops_cache_seconds=_env_number(env, "BFF_OPS_CACHE_SECONDS", 10.0, 0, 300),
        edge=parse_edge_settings(env),
        metrics_interval=_env_number(env, "BFF_METRICS_INTERVAL", 60.0, 0.0, 3600.0),
    )
