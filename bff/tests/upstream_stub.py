"""A scripted HTTP/1.1 upstream on loopback that can misbehave on purpose.

Real sockets, real parsing on the BFF side: only the upstream's behaviour is scripted, so tests
can produce resets, garbage, truncation and slowness that a well-behaved app never would.
"""

from __future__ import annotations

import gzip
import json
import socket
import socketserver
import threading
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit


def _read_head(rfile: socket.SocketIO | object) -> tuple[str, str, list[tuple[str, str]]] | None:
    line = rfile.readline(65537)  # type: ignore[attr-defined]
    if not line:
        return None
    method, target, _version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers: list[tuple[str, str]] = []
    while True:
        raw = rfile.readline(65537)  # type: ignore[attr-defined]
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return method, target, headers


def _read_body(rfile: object, headers: list[tuple[str, str]]) -> bytes:
    lower = {k.lower(): v for k, v in headers}
    if "chunked" in lower.get("transfer-encoding", "").lower():
        out = bytearray()
        while True:
            size = int(rfile.readline().split(b";")[0].strip(), 16)  # type: ignore[attr-defined]
            if size == 0:
                while rfile.readline() not in (b"\r\n", b""):  # type: ignore[attr-defined]
                    pass
                return bytes(out)
            out += rfile.read(size)  # type: ignore[attr-defined]
            rfile.readline()  # type: ignore[attr-defined]
    length = int(lower.get("content-length", "0") or 0)
    return rfile.read(length) if length else b""  # type: ignore[attr-defined]


class _Handler(socketserver.StreamRequestHandler):
    server: StubServer

    def handle(self) -> None:
        while True:
            try:
                head = _read_head(self.rfile)
            except (OSError, ValueError):
                return
            if head is None:
                return
            method, target, headers = head
            try:
                body = _read_body(self.rfile, headers)
            except (OSError, ValueError):
                return
            parts = urlsplit(target)
            self.server.hits[parts.path] += 1
            self.server.requests.append(
                {"method": method, "target": target, "headers": headers, "body": body}
            )
            keep = self._respond(method, parts.path, parse_qs(parts.query), headers, body)
            if not keep:
                return

    def _send(
        self, status: int, headers: list[tuple[str, str]], body: bytes, *, length: bool = True
    ) -> None:
        lines = [f"HTTP/1.1 {status} X"]
        if length:
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{k}: {v}" for k, v in headers]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        self.wfile.flush()

    def _respond(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> bool:
        name = path.rsplit("/", 1)[-1] if path.count("/") >= 2 else path
        if path.startswith("/catalog/status/"):
            code = int(path.rsplit("/", 1)[1])
            payload = b"" if code in (204, 304) else json.dumps({"status": code}).encode()
            self._send(code, [("Content-Type", "application/json")], payload)
            return True
        if name == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            return False
        if name == "garbage":
            self.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")
            return False
        if name == "slow":
            time.sleep(float(query.get("s", ["1"])[0]))
            self._send(200, [("Content-Type", "text/plain")], b"slow")
            return True
        if name == "truncated-large":  # past the BFF's in-memory budget: streamed, then cut
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 300_000)
            self.wfile.flush()
            return False
        if name == "truncated":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            self.wfile.flush()
            return False
        if name == "drip":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789")
            self.wfile.flush()
            time.sleep(float(query.get("s", ["3"])[0]))
            return False
        if name == "chunked":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n")
            self.wfile.write(b"Content-Type: text/plain\r\n\r\n")
            for i in range(3):
                piece = f"part{i}\n".encode()
                self.wfile.write(b"%x\r\n%b\r\n" % (len(piece), piece))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return True
        if name == "hop":
            self._send(
                200,
                [
                    ("Connection", "keep-alive, X-Upstream-Secret"),
                    ("Keep-Alive", "timeout=5"),
                    ("X-Upstream-Secret", "1"),
                    ("Proxy-Authenticate", "Basic"),
                    ("Trailer", "X-Checksum"),
                    ("Upgrade", "h2c"),
                    ("Server", "upstream/1.0"),
                    ("X-Request-ID", "upstream-made-this-up"),
                    ("X-Kept", "yes"),
                ],
                b"{}",
            )
            return True
        if name == "cookies":
            self._send(
                200,
                [
                    ("Set-Cookie", "session=abc; Path=/catalog; HttpOnly; SameSite=Lax"),
                    ("Set-Cookie", "theme=dark; Path=/catalog/items; Domain=127.0.0.1"),
                    ("Set-Cookie", "other=1; Path=/elsewhere"),
                ],
                b"{}",
            )
            return True
        if name == "redirect":
            host = dict((k.lower(), v) for k, v in headers).get("host", "")
            to = query.get("to", ["relative"])[0]
            location = {
                "relative": "/catalog/items/7",
                "absolute": f"http://{host}/catalog/items/7?x=1",
                "outside": "/admin/",
                "external": "https://example.org/catalog/x",
            }[to]
            self._send(302, [("Location", location)], b"")
            return True
        if name == "gzip":
            payload = gzip.compress(b'{"compressed": true}' * 50)
            self._send(
                200, [("Content-Type", "application/json"), ("Content-Encoding", "gzip")], payload
            )
            return True
        if name.startswith("problem"):  # problem+json as an upstream writes it: its own path
            doc = {"type": "about:blank", "title": "Conflict", "status": 409, "instance": path}
            raw = json.dumps(doc).encode()
            extra: list[tuple[str, str]] = []
            if name == "problem-gzip":
                raw, extra = gzip.compress(raw), [("Content-Encoding", "gzip")]
            elif name == "problem-large":
                raw = json.dumps({**doc, "detail": "x" * 70_000}).encode()
            elif name == "problem-invalid":
                raw = b'{"title": "Conflict", "status": 409'
            elif name == "problem-array":
                raw = b"[1, 2]"
            if name == "problem-chunked":
                self.wfile.write(b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n")
                self.wfile.write(b"Content-Type: application/problem+json\r\n\r\n")
                self.wfile.write(b"%x\r\n%b\r\n0\r\n\r\n" % (len(raw), raw))
                self.wfile.flush()
                return True
            ctype = "application/problem+json; charset=utf-8"
            self._send(409, [("Content-Type", ctype), *extra], raw)
            return True
        if name == "large":
            size = int(query.get("kb", ["256"])[0]) * 1024
            self._send(200, [("Content-Type", "application/octet-stream")], b"x" * size)
            return True
        if name == "badheader":
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Good: 1\r\nBad Name: 2\r\n"
                b"X-Ctl: a\x01b\r\n\r\nok"
            )
            self.wfile.flush()
            return True
        echo = {
            "method": method,
            "path": path,
            "target": self.server.requests[-1]["target"],
            "headers": headers,
            "body": body.decode("latin-1"),
            "body_length": len(body),
        }
        self._send(200, [("Content-Type", "application/json")], json.dumps(echo).encode())
        return True


class StubServer(socketserver.ThreadingTCPServer):
    """The scripted upstream; ``hits`` counts requests per path, ``requests`` keeps them all."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: Counter[str] = Counter()
        self.requests: list[dict[str, object]] = []
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL of the stub."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StubServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()
