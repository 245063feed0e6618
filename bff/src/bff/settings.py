"""Typed settings: one pydantic-settings model, :class:`Settings`, read once from the ``BFF_*``
environment variables by the pure function :func:`load_settings`.

Every variable is a field whose alias is the variable's name and whose description documents
it (``scripts/settings_doc.py`` prints the tables in docs/configuration.md from these models).
The gunicorn settings are a section of the same model (:class:`ServerSettings`), read by
``bff/gunicorn.conf.py`` in the master. A bad value raises :class:`SettingsError` with one
line naming the variable, its problem and what is allowed. The route table (which upstreams
exist, which prefixes go where) is a TOML file, ``BFF_ROUTES_FILE`` or the packaged
``routes.toml``, validated by :class:`RouteTable` (one model per upstream and per route); each
upstream's base URL comes from ``BFF_UPSTREAM_<NAME>_URL``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from logship.config import (
    ServiceSettings,
    WholeNumber,
    read_environment,
    validate_stream_template,
)
from logship.redact import redact_url
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_settings import SettingsConfigDict

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
Environment = Literal["development", "test", "staging", "production"]
HTTP_METHODS = frozenset(get_args(Method))
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
ENVIRONMENTS: tuple[str, ...] = get_args(Environment)
PLACEHOLDERS = frozenset({"", "changeme", "change-me", "todo", "xxx", "placeholder"})
GunicornLogLevel = Literal["debug", "info", "warning", "error", "critical"]


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


# --- value rules (each raises ValueError naming the variable; pydantic reports it) ---------


def _rate(name: str) -> AfterValidator:
    """A rate limit such as ``60/minute`` or ``10 per second`` (the ``limits`` syntax)."""

    def check(value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{name} must be a rate like 60/minute, got {value!r}") from None
        return value

    return AfterValidator(check)


def _storage_uri(value: str) -> str:
    scheme = urlsplit(value).scheme
    if scheme not in ("memory", "redis", "rediss") or (scheme != "memory" and "//" not in value):
        raise ValueError(
            "BFF_RATELIMIT_STORAGE_URI must be memory:// or redis(s)://host:port/db, "
            f"got {redact_url(value)!r}"
        )
    return value


def _absolute_dir(value: str | None) -> str | None:
    if value is not None and not Path(value).is_absolute():
        raise ValueError(f"BFF_SOURCEMAPS_DIR must be an absolute path, got {value!r}")
    return value


def _s3_uri(value: str | None) -> str | None:
    if value is not None:
        parts = urlsplit(value)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"BFF_SOURCEMAPS_S3_URI must be s3://bucket/prefix, got {value!r}")
    return value


def _http_url(value: str | None) -> str | None:
    if value is not None and urlsplit(value).scheme not in ("http", "https"):
        raise ValueError(
            f"BFF_SOURCEMAPS_S3_ENDPOINT must be an http(s) URL, got {redact_url(value)!r}"
        )
    return value


def _ops_token(value: str | None) -> str | None:
    if value is not None and (
        value.lower() in PLACEHOLDERS or len(value) < 32 or not value.isprintable()
    ):
        raise ValueError(
            "BFF_OPS_TOKEN must be at least 32 printable characters, not a placeholder"
        )
    return value


def _stream_template(value: str) -> str:
    return validate_stream_template(value, "LOG_CLOUDWATCH_CLIENT_ERRORS_STREAM")


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


_SECTION = ConfigDict(
    frozen=True,
    extra="forbid",
    validate_by_name=True,
    validate_by_alias=True,
    allow_inf_nan=False,
)


class ClientErrorSettings(BaseModel):
    """Client-error and web-vitals ingest: rate limits, source maps, scrubbing."""

    model_config = _SECTION

    rate: Annotated[str, _rate("BFF_CLIENT_ERRORS_RATE")] = Field(
        default="60/minute",
        validation_alias="BFF_CLIENT_ERRORS_RATE",
        description="reports per client IP (all three report endpoints)",
    )
    fingerprint_rate: Annotated[str, _rate("BFF_CLIENT_ERRORS_FINGERPRINT_RATE")] = Field(
        default="100/minute",
        validation_alias="BFF_CLIENT_ERRORS_FINGERPRINT_RATE",
        description="records per error fingerprint, across clients",
    )
    vitals_rate: Annotated[str, _rate("BFF_VITALS_RATE")] = Field(
        default="120/minute",
        validation_alias="BFF_VITALS_RATE",
        description="web-vitals batches per client IP",
    )
    ops_auth_rate: Annotated[str, _rate("BFF_OPS_AUTH_RATE")] = Field(
        default="10/minute",
        validation_alias="BFF_OPS_AUTH_RATE",
        description="failed `/api/ops` authentications per client IP",
    )
    ratelimit_storage_uri: Annotated[str, AfterValidator(_storage_uri)] = Field(
        default="memory://",
        validation_alias="BFF_RATELIMIT_STORAGE_URI",
        description="rate-limit and ops-index storage: `memory://` (per worker) or "
        "`redis(s)://host:port/db` (shared)",
    )
    sourcemaps_dir: Annotated[str | None, AfterValidator(_absolute_dir)] = Field(
        default=None,
        validation_alias="BFF_SOURCEMAPS_DIR",
        description="absolute path of `<release>/<URL path>.map` files",
    )
    sourcemaps_s3_uri: Annotated[str | None, AfterValidator(_s3_uri)] = Field(
        default=None,
        validation_alias="BFF_SOURCEMAPS_S3_URI",
        description="`s3://bucket/prefix` of the same files (exclusive with the directory)",
    )
    sourcemaps_s3_endpoint: Annotated[str | None, AfterValidator(_http_url)] = Field(
        default=None,
        validation_alias="BFF_SOURCEMAPS_S3_ENDPOINT",
        description="S3 endpoint URL (the emulator locally); unset: AWS",
    )
    sourcemaps_cache_maps: WholeNumber = Field(
        default=64,
        ge=1,
        le=100_000,
        validation_alias="BFF_SOURCEMAPS_CACHE_MAPS",
        description="parsed source maps kept per worker",
    )
    sourcemaps_cache_mb: WholeNumber = Field(
        default=64,
        ge=1,
        le=65_536,
        validation_alias="BFF_SOURCEMAPS_CACHE_MB",
        description="MiB of source-map JSON kept per worker",
    )
    scrub: bool = Field(
        default=True,
        validation_alias="BFF_CLIENT_ERRORS_SCRUB",
        description="PII scrubbing of client reports",
    )

    @property
    def sourcemaps_cache_bytes(self) -> int:
        """``BFF_SOURCEMAPS_CACHE_MB`` in bytes."""
        return self.sourcemaps_cache_mb * 1024 * 1024

    @model_validator(mode="after")
    def _one_map_store(self) -> ClientErrorSettings:
        if self.sourcemaps_dir and self.sourcemaps_s3_uri:
            raise ValueError("BFF_SOURCEMAPS_DIR and BFF_SOURCEMAPS_S3_URI are exclusive: set one")
        return self


class EdgeSettings(BaseModel):
    """The HTTP server's limits and timeouts (docs/proxy.md, "Security", says what each bounds)."""

    model_config = _SECTION

    header_timeout: float = Field(
        default=10.0,
        ge=0.05,
        le=3600,
        validation_alias="BFF_HEADER_TIMEOUT",
        description="seconds from a request's first byte until its head is complete (408)",
    )
    body_timeout: float = Field(
        default=30.0,
        ge=0.05,
        le=3600,
        validation_alias="BFF_BODY_TIMEOUT",
        description="longest wait in seconds for the next piece of a request body (400, close)",
    )
    keepalive_timeout: float = Field(
        default=75.0,
        ge=0.05,
        le=3600,
        validation_alias="BFF_KEEPALIVE_TIMEOUT",
        description="seconds an idle keep-alive connection stays open (above the ALB's 60 s)",
    )
    send_timeout: float = Field(
        default=30.0,
        ge=0.05,
        le=3600,
        validation_alias="BFF_SEND_TIMEOUT",
        description="longest a write to a client that does not read may block (then cut)",
    )
    body_min_rate: WholeNumber = Field(
        default=500,
        ge=0,
        le=1_000_000_000,
        validation_alias="BFF_BODY_MIN_RATE",
        description="bytes/s a request body must average once `BFF_BODY_TIMEOUT` has passed "
        "(0: no floor)",
    )
    proxy_buffer_kb: WholeNumber = Field(
        default=256,
        ge=16,
        le=1_048_576,
        validation_alias="BFF_PROXY_BUFFER_KB",
        description="KiB of a proxied response held in memory per request while the client reads",
    )
    proxy_max_temp_file_mb: WholeNumber = Field(
        default=1024,
        ge=0,
        le=1_048_576,
        validation_alias="BFF_PROXY_MAX_TEMP_FILE_MB",
        description="MiB of it then held on disk, so the upstream is freed (0: stream, holding "
        "the upstream)",
    )
    # Fixed limits, not variables (gunicorn.conf.py hands the same numbers to gunicorn).
    max_request_line: int = 8190
    max_header_fields: int = 100
    max_header_line: int = 8190
    max_head_bytes: int = 65_536

    @property
    def proxy_buffer_bytes(self) -> int:
        """``BFF_PROXY_BUFFER_KB`` in bytes."""
        return self.proxy_buffer_kb * 1024

    @property
    def proxy_max_temp_file_bytes(self) -> int:
        """``BFF_PROXY_MAX_TEMP_FILE_MB`` in bytes."""
        return self.proxy_max_temp_file_mb * 1_048_576


class ServerSettings(BaseModel):
    """gunicorn's settings (``bff/gunicorn.conf.py`` reads them once, in the master)."""

    model_config = _SECTION

    bind: str = Field(
        default="127.0.0.1:8080",
        min_length=1,
        validation_alias="BFF_BIND",
        description="gunicorn bind address (`0.0.0.0:8080` in a container)",
    )
    workers: WholeNumber = Field(
        default=2,
        ge=1,
        le=64,
        validation_alias="BFF_WORKERS",
        description="gunicorn worker processes (one per core the BFF gets)",
    )
    worker_class: str = Field(
        default="bff.proxy.server.Worker",
        min_length=1,
        validation_alias="BFF_WORKER_CLASS",
        description="gunicorn worker class",
    )
    worker_connections: WholeNumber = Field(
        default=10_000,
        ge=1,
        le=100_000,
        validation_alias="BFF_WORKER_CONNECTIONS",
        description="concurrent connections per gevent worker (each wait is bounded)",
    )
    graceful_timeout: WholeNumber = Field(
        default=20,
        ge=1,
        le=600,
        validation_alias="BFF_GRACEFUL_TIMEOUT",
        description="seconds to finish in-flight requests on SIGTERM",
    )
    log_level: Annotated[GunicornLogLevel, BeforeValidator(_lower)] = Field(
        default="info",
        validation_alias="BFF_LOG_LEVEL",
        description="gunicorn's own log level",
    )
    client_errors_stream: Annotated[str, AfterValidator(_stream_template)] = Field(
        default="client-errors/{hostname}/{pid}",
        validation_alias="LOG_CLOUDWATCH_CLIENT_ERRORS_STREAM",
        description="CloudWatch stream template of the client-error records (logger "
        "`bff.client_errors`), same fields as `LOG_CLOUDWATCH_STREAM`",
    )


class Settings(ServiceSettings):
    """Everything the BFF needs to run; build it with :func:`load_settings`.

    Built with keyword arguments in code it reads no environment; ``routes`` and
    ``upstreams`` come from the route table, not from variables.
    """

    model_config = SettingsConfigDict(arbitrary_types_allowed=True)

    environment: Environment = Field(
        default="development",
        validation_alias="BFF_ENV",
        description="`development`, `test`, `staging` or `production` (without "
        "`BFF_OPS_TOKEN`, production answers 404 on `/api/ops`)",
    )
    service: str = Field(
        default="bff",
        validation_alias="BFF_SERVICE_NAME",
        description="`service` of every log record and metric",
    )
    routes_file: str | None = Field(
        default=None,
        validation_alias="BFF_ROUTES_FILE",
        description="a route table (TOML) replacing the packaged `bff/src/bff/routes.toml`",
    )
    trusted_proxies: WholeNumber = Field(
        default=0,
        ge=0,
        le=10,
        validation_alias="BFF_TRUSTED_PROXIES",
        description="proxies in front whose `X-Forwarded-*` is trusted (ALB: 1)",
    )
    circuit_failures: WholeNumber = Field(
        default=5,
        ge=1,
        le=1000,
        validation_alias="BFF_CIRCUIT_FAILURES",
        description="consecutive failures that open an upstream's circuit",
    )
    circuit_reset_seconds: float = Field(
        default=10.0,
        ge=0.01,
        le=3600,
        validation_alias="BFF_CIRCUIT_RESET_SECONDS",
        description="how long an open circuit answers 503 before probing",
    )
    pool_maxsize: WholeNumber = Field(
        default=64,
        ge=1,
        le=10_000,
        validation_alias="BFF_POOL_MAXSIZE",
        description="idle keep-alive connections kept per upstream per worker",
    )
    pool_idle_seconds: float = Field(
        default=4.0,
        ge=0.1,
        le=3600,
        validation_alias="BFF_POOL_IDLE_SECONDS",
        description="seconds an idle upstream connection is kept (below the upstream's own "
        "keep-alive)",
    )
    readiness_timeout: float = Field(
        default=1.0,
        ge=0.01,
        le=30,
        validation_alias="BFF_READINESS_TIMEOUT",
        description="seconds each upstream health path has to answer for `/readyz`",
    )
    readiness_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        validation_alias="BFF_READINESS_CACHE_SECONDS",
        description="seconds a `/readyz` result is reused",
    )
    ops_token: Annotated[str | None, AfterValidator(_ops_token)] = Field(
        default=None,
        repr=False,  # never printed
        validation_alias="BFF_OPS_TOKEN",
        description="bearer token of `/api/ops`: 32+ printable characters, no placeholder",
    )
    ops_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        le=300,
        validation_alias="BFF_OPS_CACHE_SECONDS",
        description="seconds the ops summary is cached per worker (0: off)",
    )
    metrics_interval: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        validation_alias="BFF_METRICS_INTERVAL",
        description="seconds between EMF metric flushes per worker (0: metrics off)",
    )
    client_errors: ClientErrorSettings = ClientErrorSettings()
    edge: EdgeSettings = EdgeSettings()
    server: ServerSettings = ServerSettings()
    routes: tuple[Route, ...] = ()
    upstreams: Mapping[str, Upstream] = Field(default_factory=dict)


# --- the route table --------------------------------------------------------------------


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


def _path_prefix(value: str) -> str:
    """A path prefix: empty, or ``/a/b`` (no trailing slash, no ``//``, dot segments, ``\\``
    or percent-escapes), so it can be joined and compared as plain text."""
    if value and (not value.startswith("/") or value.endswith("/") or "//" in value):
        raise ValueError("must start with '/' and not end with '/'")
    if any(seg in (".", "..") for seg in value.split("/")) or "\\" in value or "%" in value:
        raise ValueError("must be a plain canonical path")
    return value


_TABLE = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)
_TABLE_OPEN = ConfigDict(frozen=True, extra="ignore", strict=True, allow_inf_nan=False)
PathPrefix = Annotated[str, AfterValidator(_path_prefix)]


def _read_methods() -> list[Method]:
    return ["GET", "HEAD"]


class UpstreamSpec(BaseModel):
    """``[upstreams.<name>]`` of the route table (the base URL comes from the environment)."""

    model_config = _TABLE_OPEN

    health_path: str = Field(default="/healthz", pattern=r"^/")


class RouteSpec(BaseModel):
    """One ``[[routes]]`` entry of the route table."""

    model_config = _TABLE

    name: str = Field(min_length=1)
    prefix: Annotated[PathPrefix, Field(min_length=1)]
    upstream: str
    upstream_prefix: PathPrefix = ""
    methods: list[Method] = Field(default_factory=_read_methods, min_length=1)
    max_body_bytes: int = Field(default=1_048_576, ge=0, le=2**40)
    connect_timeout: float = Field(default=1.0, ge=0.001, le=60)
    read_timeout: float = Field(default=10.0, ge=0.001, le=3600)
    deadline: float = Field(default=30.0, ge=0.001, le=3600)
    retries: int = Field(default=1, ge=0, le=5)
    retry_backoff: float = Field(default=0.05, ge=0, le=5)
    retry_on_status: list[Annotated[int, Field(ge=500, le=599)]] = Field(default_factory=list)
    chunked_requests: Literal["buffer", "stream"] = "buffer"

    @model_validator(mode="after")
    def _deadline_covers_connect(self) -> RouteSpec:
        if self.deadline < self.connect_timeout:
            raise ValueError(f"route {self.name!r}.deadline must be at least connect_timeout")
        return self


UpstreamName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")]


class RouteTable(BaseModel):
    """The route table document: which upstreams exist and which ``/api`` prefix goes where."""

    model_config = _TABLE_OPEN

    upstreams: dict[UpstreamName, UpstreamSpec] = Field(min_length=1)
    routes: list[RouteSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _routes_fit_together(self) -> RouteTable:
        seen_names: set[str] = set()
        seen_prefixes: set[str] = set()
        for route in self.routes:
            if route.upstream not in self.upstreams:
                raise ValueError(
                    f"route {route.name!r}.upstream {route.upstream!r} is not a declared upstream"
                )
            if route.prefix in seen_prefixes or route.name in seen_names:
                raise ValueError(f"route {route.name!r}: duplicate name or prefix {route.prefix!r}")
            if not route.prefix.startswith("/api/") and route.prefix != "/api":
                raise ValueError(f"route {route.name!r}: prefix must live under /api")
            seen_names.add(route.name)
            seen_prefixes.add(route.prefix)
        return self


def _table_error(exc: ValidationError, document: Mapping[str, Any]) -> str:
    """The first error of the route table as one line naming the entry and the key."""
    errors = exc.errors(include_url=False)
    error = errors[0]
    loc, kind, raw = error["loc"], error["type"], error.get("input")
    if kind == "value_error" and len(loc) <= 2:  # a rule of the table or of one route
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if loc[:1] == ("upstreams",):
        if len(loc) == 1:
            return "the route table must declare at least one [upstreams.<name>]"
        upstream = loc[1]
        if len(loc) == 2 or loc[2] == "[key]":
            return f"upstream name {upstream!r} must be alphanumeric with a table body"
        return f"upstreams.{upstream}.{loc[2]} must start with '/'"
    if len(loc) < 2:
        return "the route table must declare at least one [[routes]] entry"
    index = int(loc[1])
    routes = document.get("routes")
    entry = routes[index] if isinstance(routes, list) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    if len(loc) == 2:
        return f"routes[{index}] must be a table"
    if kind == "extra_forbidden":
        unknown = sorted(str(e["loc"][2]) for e in errors if e["type"] == kind)
        return f"routes[{index}] has unknown keys: {', '.join(unknown)}"
    key = str(loc[2])
    if key == "name" or not isinstance(name, str) or not name:
        return f"routes[{index}].name is required"
    where = f"route {name!r}.{key}"
    if key == "methods":
        return f"{where} must be a non-empty subset of {sorted(HTTP_METHODS)}"
    if key == "retry_on_status":
        return f"{where} must list 5xx status codes"
    if key == "chunked_requests":
        return f"{where} must be 'buffer' or 'stream'"
    if key == "upstream":
        return f"{where} {raw!r} is not a declared upstream"
    if kind == "value_error":
        return f"{where} {error.get('ctx', {}).get('error', error['msg'])}: {raw!r}"
    if kind == "missing":
        return f"{where} is required"
    field = RouteSpec.model_fields[key]
    low, high = (
        next((getattr(m, attr) for m in field.metadata if hasattr(m, attr)), None)
        for attr in ("ge", "le")
    )
    noun = "an integer" if field.annotation is int else "a number"
    return f"{where} must be {noun} between {low} and {high}, got {raw!r}"


def parse_route_table(
    document: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[tuple[Route, ...], dict[str, Upstream]]:
    """Build routes and upstreams from a parsed TOML document; URLs come from the environment."""
    try:
        table = RouteTable.model_validate(document)
    except ValidationError as exc:
        raise SettingsError(_table_error(exc, document)) from None
    upstreams = {
        name: parse_upstream_url(
            name,
            f"BFF_UPSTREAM_{name.upper()}_URL",
            env.get(f"BFF_UPSTREAM_{name.upper()}_URL"),
            spec.health_path,
        )
        for name, spec in table.upstreams.items()
    }
    routes = [
        Route(
            name=spec.name,
            prefix=spec.prefix,
            upstream=upstreams[spec.upstream],
            upstream_prefix=spec.upstream_prefix,
            methods=frozenset(spec.methods),
            max_body_bytes=spec.max_body_bytes,
            connect_timeout=spec.connect_timeout,
            read_timeout=spec.read_timeout,
            deadline=spec.deadline,
            retries=spec.retries,
            retry_backoff=spec.retry_backoff,
            retry_on_status=frozenset(spec.retry_on_status),
            chunked_requests=spec.chunked_requests,
        )
        for spec in table.routes
    ]
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


def load_settings(env: Mapping[str, str]) -> Settings:
    """Parse and validate every ``BFF_*`` variable and the route table;
    :class:`SettingsError` names the bad one in one line."""
    settings = read_environment(Settings, env, SettingsError)
    routes, upstreams = parse_route_table(load_route_document(settings.routes_file), env)
    return settings.model_copy(update={"routes": routes, "upstreams": upstreams})
