"""Rate limits for the ingest endpoints (the ``limits`` library's storage and fixed window).

Limits are checked explicitly by the endpoints (per client IP, and per error fingerprint
once the report is parsed), never as app-wide defaults, so the proxied routes (served by the
WSGI ``ProxyApp`` before Flask) and the health endpoints are never limited, and no request
pays for a limiter hook it does not use (Flask-Limiter's ``before_request`` hook cost more
than the checks themselves, so only its storage and strategy layer is used). Storage is in
memory per worker (``memory://``) or Redis (``BFF_RATELIMIT_STORAGE_URI=redis://...``), which
several BFF tasks share. When the storage fails the check fails open: the request is accepted,
the failure counted, a warning logged at most once a minute, and the storage left alone for a
few seconds so an outage adds no latency.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Final

from flask import Flask, request
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .settings import ClientErrorSettings

log = logging.getLogger("bff.ratelimit")

RETRY_STORAGE_SECONDS: Final = 5.0
WARN_INTERVAL_SECONDS: Final = 60.0
_PREFIX: Final = "bff"
_REDIS_OPTIONS: Final = {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one check: allowed, or refused with a ``Retry-After`` in seconds."""

    allowed: bool
    retry_after: int = 0


ALLOWED: Final = Decision(True)


def client_key() -> str:
    """The client's address (after ProxyFix, when the BFF trusts proxies)."""
    return request.remote_addr or "unknown"


class RateLimits:
    """Named limits over one shared storage, with fail-open counting."""

    def __init__(self, settings: ClientErrorSettings, clock: object = time.monotonic) -> None:
        uri = settings.ratelimit_storage_uri
        self.storage_scheme = uri.split("://", 1)[0]  # never the URI: it may hold a password
        options: dict[str, str | int] = {}
        if not uri.startswith("memory"):
            options.update(_REDIS_OPTIONS)  # type: ignore[arg-type]
        self.storage = storage_from_string(uri, **options)
        self.strategy = FixedWindowRateLimiter(self.storage)
        self.items: dict[str, RateLimitItem] = {
            "client": parse(settings.rate),
            "fingerprint": parse(settings.fingerprint_rate),
            "vitals": parse(settings.vitals_rate),
            "ops_auth": parse(settings.ops_auth_rate),
        }
        self.stats: dict[str, int] = {"storage_errors": 0, "failed_open": 0}
        self.limited: dict[str, int] = {}
        self._skip_until = 0.0
        self._warned_at = -math.inf

    def init_app(self, app: Flask) -> None:
        """Make the limits reachable from ``app`` (no request hook is installed)."""
        app.extensions["bff.ratelimits"] = self

    def hit(self, name: str, key: str) -> Decision:
        """Count one request against limit ``name`` for ``key``; never raises."""
        item = self.items[name]
        now = time.monotonic()
        if now < self._skip_until:
            self.stats["failed_open"] += 1
            return ALLOWED
        strategy = self.strategy
        try:
            if strategy.hit(item, _PREFIX, name, key):
                return ALLOWED
            reset_at = strategy.get_window_stats(item, _PREFIX, name, key).reset_time
        except Exception as exc:  # noqa: BLE001 - any storage failure must fail open
            self._storage_failed(exc, now)
            return ALLOWED
        self.limited[name] = self.limited.get(name, 0) + 1
        return Decision(False, max(1, math.ceil(reset_at - time.time())))

    def _storage_failed(self, exc: Exception, now: float) -> None:
        self.stats["storage_errors"] += 1
        self.stats["failed_open"] += 1
        self._skip_until = now + RETRY_STORAGE_SECONDS
        if now - self._warned_at >= WARN_INTERVAL_SECONDS:
            self._warned_at = now
            log.warning(
                "rate limit storage unavailable, accepting without limits",
                extra={"data": {"error": f"{type(exc).__name__}: {exc}"[:300]}},
            )

    def snapshot(self) -> dict[str, object]:
        """Counters for ``/internal/client-errors``."""
        return {
            "storage": self.storage_scheme,
            "limits": {name: str(item) for name, item in self.items.items()},
            "limited": dict(self.limited),
            **self.stats,
        }
