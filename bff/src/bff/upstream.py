"""Keep-alive connection pools and circuit breakers for the configured upstreams, per worker."""

from __future__ import annotations

import os

from .circuit import CircuitBreaker
from .http1 import Pool
from .settings import Settings


class UpstreamClients:
    """Connection pools and circuit breakers keyed by upstream name.

    Pools are built lazily in the process that uses them, so a pool is never shared across a
    fork (gunicorn with ``preload_app`` would otherwise hand every worker the same sockets).
    Each pool is bound to one configured host and port: nothing in a request can point it
    anywhere else.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pid = -1
        self._pools: dict[str, Pool] = {}
        self._breakers: dict[str, CircuitBreaker] = {}

    def _build(self) -> None:
        s = self._settings
        self._pid = os.getpid()
        self._pools = {
            name: Pool(up.scheme, up.host, up.port, s.pool_maxsize, s.pool_idle_seconds)
            for name, up in s.upstreams.items()
        }
        self._breakers = {
            name: CircuitBreaker(s.circuit_failures, s.circuit_reset_seconds)
            for name in s.upstreams
        }

    def pool(self, name: str) -> Pool:
        """The connection pool for upstream ``name`` in this process."""
        if self._pid != os.getpid():
            self._build()
        return self._pools[name]

    def breaker(self, name: str) -> CircuitBreaker:
        """The circuit breaker for upstream ``name`` in this process."""
        if self._pid != os.getpid():
            self._build()
        return self._breakers[name]

    def close(self) -> None:
        """Close every pooled connection (worker exit)."""
        for pool in self._pools.values():
            pool.close()
