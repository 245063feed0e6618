"""Keep-alive connection pools and circuit breakers for the configured upstreams, per worker."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from ..settings import Settings
from .circuit import CircuitBreaker
from .client import (
    Connection,
    Response,
    UpstreamError,
    build_head,
    connect,
    read_response,
    send_request,
)

if TYPE_CHECKING:
    import ssl


class Pool:
    """Idle keep-alive connections to one upstream, newest first, for one worker process."""

    __slots__ = ("scheme", "host", "port", "maxsize", "idle_timeout", "check_after", "tls", "_idle")

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        maxsize: int,
        idle_timeout: float = 4.0,
        check_after: float = 1.0,
    ) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.maxsize = maxsize
        self.idle_timeout = idle_timeout
        # Probing a socket costs a poll; one reused within this many seconds is trusted, since
        # servers close idle connections after seconds and announce other closes in the
        # response ("Connection: close"). A stale one still fails safely: see UpstreamError.
        self.check_after = check_after
        self.tls: ssl.SSLContext | None = None
        if scheme == "https":
            import ssl

            self.tls = ssl.create_default_context()
        self._idle: list[Connection] = []

    def get(self, connect_timeout: float) -> Connection:
        """A live idle connection, or a new one."""
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            idle = now - conn.idle_since
            if idle < self.idle_timeout and (idle < self.check_after or not conn.is_dropped()):
                conn.reused = True
                return conn
            conn.close()
        return connect(self.scheme, self.host, self.port, connect_timeout, self.tls)

    def put(self, conn: Connection) -> None:
        """Return a connection whose last response was read completely."""
        if len(self._idle) >= self.maxsize:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def close(self) -> None:
        """Close every idle connection."""
        while self._idle:
            self._idle.pop().close()

    def __del__(self) -> None:
        self.close()


def exchange(
    pool: Pool, method: str, target: str, headers: dict[str, str], timeout: float
) -> tuple[Response, bytes]:
    """One small bodiless request with its whole answer (for health checks)."""
    conn = pool.get(timeout)
    try:
        conn.sock.settimeout(timeout)
        send_request(conn, build_head(method, target, headers), None, False)
        resp = read_response(conn, method, timeout)
        body = b"".join(resp.stream())
    except BaseException:
        conn.close()
        raise
    if resp.keep_alive:
        pool.put(conn)
    else:
        conn.close()
    return resp, body


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


__all__ = ["Pool", "UpstreamClients", "UpstreamError", "exchange"]
