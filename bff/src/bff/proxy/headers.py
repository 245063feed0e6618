"""Header rules for proxying: hop-by-hop removal, forwarding, request ids, trace context."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from logship import context as log_context

from ..settings import Route

# RFC 9110 7.6.1 plus the legacy ones every proxy strips.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "transfer-encoding",
        "upgrade",
        "trailer",
        "proxy-authenticate",
        "proxy-authorization",
    }
)
# Request headers the BFF owns: a client value would be a spoof or meaningless upstream.
_REQUEST_OWNED = HOP_BY_HOP | {
    "host",
    "expect",
    "content-length",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-real-ip",
    "x-request-id",
    "traceparent",
    "tracestate",
}
# Response headers the BFF's server sets itself, or that must not leak from upstream.
_RESPONSE_OWNED = HOP_BY_HOP | {"date", "server", "x-request-id", "x-powered-by"}

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def new_id() -> str:
    """A fresh 32-hex-digit identifier (128 random bits)."""
    return os.urandom(16).hex()


def request_id_from(value: str | None) -> str:
    """Accept a client's X-Request-ID if it is a short safe token that carries no personal
    data, otherwise generate one (logship's rule, shared by every service)."""
    return log_context.request_id_from(value)


def traceparent_from(value: str | None) -> tuple[str, str]:
    """Return ``(trace_id, traceparent for upstream)``: continue a valid W3C trace or start one.

    The BFF is a hop of its own, so the parent id sent upstream is a new span id.
    """
    span = os.urandom(8).hex()
    if value:
        match = _TRACEPARENT.fullmatch(value.strip().lower())
        if match and match.group(1) != _ZERO_TRACE and match.group(2) != _ZERO_SPAN:
            trace_id = match.group(1)
            return trace_id, f"00-{trace_id}-{span}-{match.group(3)}"
    trace_id = new_id()
    return trace_id, f"00-{trace_id}-{span}-01"


def connection_tokens(value: str | None) -> frozenset[str]:
    """Header names listed in a Connection header (they are hop-by-hop too)."""
    if not value:
        return frozenset()
    return frozenset(t.strip().lower() for t in value.split(",") if t.strip())


def forwarded_for(environ: Mapping[str, Any], trusted_proxies: int) -> str:
    """X-Forwarded-For to send upstream: only the hops we trust, then the peer that connected to us.

    A client can write anything into X-Forwarded-For; only the last ``trusted_proxies`` entries
    were appended by our own proxies (the load balancer). Untrusted entries are dropped, so the
    leftmost address the upstream sees is the real client.
    """
    orig = environ.get("werkzeug.proxy_fix.orig", {})
    peer = orig.get("REMOTE_ADDR", environ.get("REMOTE_ADDR")) or "unknown"
    if trusted_proxies <= 0:
        return str(peer)
    incoming = orig.get("HTTP_X_FORWARDED_FOR", environ.get("HTTP_X_FORWARDED_FOR")) or ""
    hops = [h.strip() for h in str(incoming).split(",") if h.strip()]
    return ", ".join([*hops[-trusted_proxies:], str(peer)])


def upstream_request_headers(
    environ: Mapping[str, Any],
    route: Route,
    *,
    request_id: str,
    traceparent: str,
    tracestate: str | None,
    trusted_proxies: int,
) -> dict[str, str]:
    """Headers for the upstream request: client headers minus hop-by-hop and spoofable ones."""
    drop = _REQUEST_OWNED | connection_tokens(environ.get("HTTP_CONNECTION"))
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
            if name not in drop:
                headers[name] = value
    content_type = environ.get("CONTENT_TYPE")
    if content_type:
        headers["content-type"] = content_type
    upstream = route.upstream
    default_port = 443 if upstream.scheme == "https" else 80
    headers["host"] = (
        upstream.host if upstream.port == default_port else f"{upstream.host}:{upstream.port}"
    )
    headers["x-forwarded-for"] = forwarded_for(environ, trusted_proxies)
    headers["x-forwarded-proto"] = environ.get("wsgi.url_scheme", "http")
    client_host = environ.get("HTTP_HOST")
    if client_host:
        headers["x-forwarded-host"] = client_host
    headers["x-forwarded-prefix"] = route.prefix
    headers["x-request-id"] = request_id
    headers["traceparent"] = traceparent
    if tracestate:
        headers["tracestate"] = tracestate
    return headers


def rewrite_location(value: str, route: Route, upstream_origins: Iterable[str]) -> str:
    """Map a Location that points into the upstream's prefix back onto the route's public prefix.

    Absolute URLs on the upstream's own origin become same-origin paths; anything else is kept.
    """
    path = value
    for origin in upstream_origins:
        if value.startswith(origin):
            path = value[len(origin) :] or "/"
            break
    target = route.target_prefix
    if path.startswith("/") and not path.startswith("//"):
        if not target:
            return route.prefix + path
        if path == target or path.startswith((target + "/", target + "?", target + "#")):
            return route.prefix + path[len(target) :]
    return value


def rewrite_set_cookie(value: str, route: Route) -> str:
    """Rewrite a Set-Cookie ``Path`` under the upstream prefix to the public prefix; drop a
    ``Domain`` naming the upstream host (the browser only knows the site's origin)."""
    parts = value.split(";")
    target = route.target_prefix
    changed = False
    for i in range(1, len(parts)):
        attr = parts[i].strip()
        lower = attr.lower()
        if lower.startswith("path="):
            path = attr[5:].strip()
            if target and (path == target or path.startswith(target + "/")):
                parts[i] = " Path=" + route.prefix + path[len(target) :]
                changed = True
        elif lower.startswith("domain="):
            domain = attr[7:].strip().lstrip(".").lower()
            if domain == route.upstream.host.lower():
                parts[i] = ""
                changed = True
    if not changed:
        return value
    return ";".join(p for p in parts if p != "")


def upstream_origins(route: Route) -> tuple[str, ...]:
    """The spellings of the upstream's origin an absolute Location may use."""
    up = route.upstream
    default = (up.scheme == "http" and up.port == 80) or (up.scheme == "https" and up.port == 443)
    origins = [f"{up.scheme}://{up.host}:{up.port}"]
    if default:
        origins.append(f"{up.scheme}://{up.host}")
    return tuple(origins)


def response_headers(
    raw: Iterable[tuple[str, str]], route: Route, request_id: str
) -> list[tuple[str, str]]:
    """Headers for the client: upstream's minus hop-by-hop, with Location/Set-Cookie mapped."""
    items = list(raw)
    drop: frozenset[str] = _RESPONSE_OWNED
    for name, value in items:
        lower = name.lower()
        if lower == "connection":
            drop = drop | connection_tokens(value)
        elif lower == "transfer-encoding":
            # RFC 9112 6.3: Content-Length is meaningless next to Transfer-Encoding.
            drop = drop | {"content-length"}
    out: list[tuple[str, str]] = []
    for name, value in items:
        lower = name.lower()
        if lower in drop:
            continue
        if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
            continue  # a malformed upstream header is dropped rather than crash the response
        if lower == "location":
            value = rewrite_location(value, route, upstream_origins(route))
        elif lower == "set-cookie":
            value = rewrite_set_cookie(value, route)
        out.append((name, value))
    out.append(("X-Request-ID", request_id))
    return out
