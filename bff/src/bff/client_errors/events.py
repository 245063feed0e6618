"""The one event shape every client-error source is turned into, and the record it becomes."""

from __future__ import annotations

import functools
import ipaddress
import secrets
from dataclasses import dataclass, field
from typing import Any, Final

from .stack import Frame

SOURCES: Final = ("reporter", "sentry", "csp", "reporting-api", "server")
_INCIDENT_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MAX_LOG_MESSAGE: Final = 1024


class InvalidInput(Exception):
    """A request body that cannot be accepted: becomes a 4xx problem."""

    def __init__(
        self, status: int, slug: str, detail: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.errors = errors or []


@dataclass(slots=True)
class ClientError:
    """One error report from any source, before processing."""

    source: str
    kind: str
    incident: str
    type: str
    message: str
    frames: list[Frame] = field(default_factory=list)
    url: str | None = None
    route: str | None = None
    release: str | None = None
    session: str | None = None
    digest: str | None = None
    breadcrumbs: list[Any] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    ts: float | None = None
    csp: dict[str, Any] | None = None

    def log_message(self) -> str:
        """The record's message: ``client error: <type>: <message>`` (CSP has its own)."""
        if self.csp is not None:
            text = f"csp violation: {self.csp.get('directive')} {self.csp.get('blocked')}"
        else:
            text = f"client error: {self.type}: {self.message}"
        return text[:MAX_LOG_MESSAGE]


def new_incident() -> str:
    """A fresh incident code for reports that carry none (CSP, Reporting API)."""
    return "".join(secrets.choice(_INCIDENT_ALPHABET) for _ in range(10))


@functools.lru_cache(maxsize=4096)
def truncate_ip(address: str | None) -> str | None:
    """The client address with the host part zeroed: /24 for IPv4, /48 for IPv6."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def event_data(
    error: ClientError,
    *,
    fingerprint: str,
    client_ip: str | None,
    user_agent: str | None,
    received_at: str,
) -> dict[str, Any]:
    """The ``data`` of the record (contract order; enrichment is the server's own), without
    ``scrubbed``, which the scrubber adds last."""
    data: dict[str, Any] = {
        "source": error.source,
        "kind": error.kind,
        "incident": error.incident,
        "fingerprint": fingerprint,
        "release": error.release,
        "type": error.type,
        "message": error.message,
        "url": error.url,
        "route": error.route,
        "session": error.session,
        "user_agent": user_agent,
        "client_ip": client_ip,
        "received_at": received_at,
        "frames": [frame.as_dict() for frame in error.frames],
        "breadcrumbs": error.breadcrumbs,
        "request_ids": error.request_ids,
    }
    if error.digest is not None:
        data["digest"] = error.digest
    if error.ts is not None:
        data["client_ts"] = error.ts
    if error.csp is not None:
        data["csp"] = error.csp
    return data
