"""An HTTP/1.1 fault-injection proxy on 127.0.0.1, switched at runtime between behaviours.

Modes (per request, so keep-alive connections see switches immediately):

* ``pass``      forward to the upstream (the moto server) and relay its answer
* ``throttle``  answer 400 with CloudWatch's ``ThrottlingException`` JSON
* ``503``       answer 503 ``ServiceUnavailableException``
* ``reset``     read the request, then reset the TCP connection (RST)
* ``blackhole`` read the request and never answer (until the mode changes or the proxy stops)
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("pass", "throttle", "503", "reset", "blackhole")
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    proxy: FaultProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def _handle(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        mode = proxy.mode
        proxy.record(mode, self.headers.get("X-Amz-Target", ""), body)
        if mode == "pass":
            self._forward(body)
        elif mode == "throttle":
            self._error(400, "ThrottlingException", "Rate exceeded")
        elif mode == "503":
            self._error(503, "ServiceUnavailableException", "Service Unavailable")
        elif mode == "reset":
            self._reset()
        else:
            proxy.hold(self)

    do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = _handle

    def _forward(self, body: bytes) -> None:
        proxy = self.server.proxy
        conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in _HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        finally:
            conn.close()

    def _error(self, status: int, code: str, message: str) -> None:
        data = json.dumps({"__type": code, "message": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _reset(self) -> None:
        self.close_connection = True
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.wfile.close()
        sock.close()
        # http.server flushes wfile after the handler returns: a closed file would print a
        # traceback on stderr, interleaved with the notices the tests read there.
        self.wfile = io.BytesIO()


class FaultProxy:
    """Start with :meth:`start`, switch with :attr:`mode`, always :meth:`stop`."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self._mode = "pass"
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.counts: Counter[str] = Counter()
        self.keep_bodies = False
        self.put_bodies: list[tuple[str, bytes]] = []
        self._stopping = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def mode(self) -> str:
        with self._lock:
            return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(value)
        with self._changed:
            self._mode = value
            self._changed.notify_all()

    def record(self, mode: str, target: str, body: bytes) -> None:
        with self._lock:
            self.counts[mode] += 1
            if self.keep_bodies and target.endswith(".PutLogEvents"):
                self.put_bodies.append((mode, body))

    def hold(self, handler: _Handler, limit: float = 600.0) -> None:
        """Black-hole: keep the connection open without answering."""
        handler.close_connection = True
        deadline = time.monotonic() + limit
        with self._changed:
            while self._mode == "blackhole" and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(min(remaining, 0.2))

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.proxy = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
