"""Pooled HTTP clients for the configured upstreams, one set per worker process."""

from __future__ import annotations

import os
from collections.abc import Mapping

from urllib3 import HTTPConnectionPool, HTTPSConnectionPool

from .circuit import CircuitBreaker
from .settings import Settings, Upstream


class UpstreamClients:
    """Connection pools and circuit breakers keyed by upstream name.

    Pools are built lazily in the process that uses them, so a pool is never shared across a
    fork (gunicorn with ``preload_app`` would otherwise hand every worker the same sockets).
    Each pool is bound to one configured host: no URL from a request can redirect it elsewhere.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pid = -1
        self._pools: dict[str, HTTPConnectionPool] = {}
        self._breakers: dict[str, CircuitBreaker] = {}

    def _build(self) -> None:
        self._pid = os.getpid()
        self._pools = {name: self._pool(up) for name, up in self._settings.upstreams.items()}
        self._breakers = {
            name: CircuitBreaker(
                self._settings.circuit_failures, self._settings.circuit_reset_seconds
            )
            for name in self._settings.upstreams
        }

    def _pool(self, upstream: Upstream) -> HTTPConnectionPool:
        cls = HTTPSConnectionPool if upstream.scheme == "https" else HTTPConnectionPool
        return cls(
            upstream.host,
            upstream.port,
            maxsize=self._settings.pool_maxsize,
            block=False,
            retries=False,
        )

    def pool(self, name: str) -> HTTPConnectionPool:
        """The connection pool for upstream ``name`` in this process."""
        if self._pid != os.getpid():
            self._build()
        return self._pools[name]

    def breaker(self, name: str) -> CircuitBreaker:
        """The circuit breaker for upstream ``name`` in this process."""
        if self._pid != os.getpid():
            self._build()
        return self._breakers[name]

    def breakers(self) -> Mapping[str, CircuitBreaker]:
        """All breakers of this process (for readiness and diagnostics)."""
        if self._pid != os.getpid():
            self._build()
        return self._breakers

    def close(self) -> None:
        """Close every pooled connection (worker exit)."""
        for pool in self._pools.values():
            pool.close()
