"""Upstream WSGI app for the edge benchmark, run under gunicorn by ``run.py``.

Two deployments of the same app sit behind the BFF:

* ``static`` (gunicorn ``gevent`` worker, many connections): the fast upstream.
  ``GET /static/1k.json`` answers a 1 KiB JSON document; ``POST /static/sink`` reads the whole
  request body and answers how many bytes it got.
* ``limited`` (gunicorn ``gthread``, 1 worker, 8 threads, as Django runs): a service with a fixed
  number of request threads. ``GET /limited/small`` answers 1 KiB of JSON, ``GET /limited/big``
  50 MiB (a JSON document streamed in 256 KiB pieces; a thread is busy until all of it is sent).

Both answer ``GET /healthz``. Everything is generated in memory; nothing is read from disk.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

SMALL_BYTES = 1024
BIG_BYTES = 50 * 1024 * 1024
PIECE = 256 * 1024
READ_SIZE = 65_536

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def json_body(nbytes: int) -> bytes:
    """Return a valid JSON document of exactly nbytes bytes (at least 16)."""
    head = json.dumps({"size": nbytes, "pad": ""}, separators=(",", ":")).encode()
    body = head[:-2] + b"x" * (nbytes - len(head)) + b'"}'
    if len(body) != nbytes:
        raise ValueError(f"cannot build a JSON body of {nbytes} bytes")
    return body


SMALL = json_body(SMALL_BYTES)
BIG_HEAD = b'{"pad":"'
BIG_TAIL = b'"}'
BIG_PIECE = b"x" * PIECE


def big_body() -> Iterator[bytes]:
    """Yield a JSON document of exactly BIG_BYTES bytes, piece by piece."""
    yield BIG_HEAD
    left = BIG_BYTES - len(BIG_HEAD) - len(BIG_TAIL)
    while left > 0:
        piece = BIG_PIECE if left >= PIECE else BIG_PIECE[:left]
        left -= len(piece)
        yield piece
    yield BIG_TAIL


def read_body(environ: Environ) -> int:
    """Read and discard the request body; return its size."""
    stream = environ["wsgi.input"]
    try:
        left = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        left = 0
    total = 0
    while left > 0:
        piece = stream.read(min(READ_SIZE, left))
        if not piece:
            break
        total += len(piece)
        left -= len(piece)
    return total


def respond(
    start_response: StartResponse, status: str, body: bytes, ctype: str = "application/json"
) -> list[bytes]:
    """Start a response with a fixed body and return it."""
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Route the benchmark's few paths."""
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "")
    if method in ("GET", "HEAD"):
        if path == "/healthz":
            return respond(start_response, "200 OK", b'{"status":"ok"}')
        if path in ("/static/1k.json", "/limited/small"):
            return respond(start_response, "200 OK", SMALL)
        if path == "/limited/big":
            start_response(
                "200 OK",
                [("Content-Type", "application/json"), ("Content-Length", str(BIG_BYTES))],
            )
            return big_body()
    if method == "POST" and path == "/static/sink":
        received = read_body(environ)
        return respond(start_response, "200 OK", json.dumps({"received": received}).encode())
    return respond(start_response, "404 Not Found", b'{"error":"not found"}')
