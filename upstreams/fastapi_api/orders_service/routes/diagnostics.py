"""Diagnostic endpoints under ``/orders/_test/`` used by the BFF's proxy tests.

Mounted unless ``UPSTREAM_TEST_ENDPOINTS=0``; hidden from the OpenAPI document. All
numeric parameters are bounded. The echoed ``path`` is ASGI's ``raw_path`` (the request
target as received, percent-encoding preserved, without the query string); repeated
request headers are joined with ``", "``.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.routing import Route, request_response
from starlette.types import Receive, Scope, Send

from orders_service.problems import FieldError, ProblemError

SERVICE_NAME = "orders"
PREFIX = "/orders/_test"

MAX_ECHO_BODY_BYTES = 64 * 1024 * 1024
MAX_STREAM_CHUNKS = 1000
MAX_STREAM_INTERVAL_MS = 10_000
MAX_STREAM_CHUNK_SIZE = 1024 * 1024
MAX_DELAY_MS = 60_000
MAX_LARGE_KB = 51_200

# Status codes that must not carry content (RFC 9110 sections 15.3.5, 15.3.6, 15.4.5).
BODYLESS_STATUSES = frozenset({204, 205, 304})

# Set-Cookie values sent by /cookie, byte for byte.
TEST_COOKIES = (
    "session=abc; Path=/; HttpOnly; SameSite=Lax",
    "theme=dark; Path=/catalog; Max-Age=3600",
)

# Characters kept as-is when percent-encoding a redirect target (same set as Django's
# iri_to_uri): reserved characters and existing escapes survive, anything else is encoded.
_URI_SAFE = "/#%[]=:;$&()+,!?*@'~"
_PADDING_ALPHABET = b"abcdefghijklmnopqrstuvwxyz0123456789"

router = APIRouter(prefix=PREFIX, include_in_schema=False)


# --- echo --------------------------------------------------------------------------------


def _raw_path(request: Request) -> str:
    raw_path = request.scope.get("raw_path")
    if isinstance(raw_path, bytes):
        return raw_path.decode("latin-1")
    return quote(request.scope["path"])


def _request_headers(request: Request) -> dict[str, str]:
    grouped: dict[str, list[str]] = {}
    for name, value in request.scope["headers"]:
        grouped.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return {name: ", ".join(values) for name, values in sorted(grouped.items())}


async def _read_body(request: Request) -> bytes:
    too_large = ProblemError(413, f"The request body exceeds {MAX_ECHO_BODY_BYTES} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ECHO_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_ECHO_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def echo(request: Request) -> JSONResponse:
    """Describe the request exactly as received (any method, any sub-path)."""
    body = await _read_body(request)
    payload: dict[str, Any] = {
        "service": SERVICE_NAME,
        "method": request.method,
        "path": _raw_path(request),
        "query": request.scope.get("query_string", b"").decode("latin-1"),
        "headers": _request_headers(request),
    }
    try:
        payload["body"] = body.decode("utf-8")
        payload["body_encoding"] = "utf-8"
    except UnicodeDecodeError:
        payload["body"] = base64.b64encode(body).decode("ascii")
        payload["body_encoding"] = "base64"
    payload["body_length"] = len(body)
    return JSONResponse(payload)


# --- status (any method) -----------------------------------------------------------------


async def status(request: Request) -> Response:
    code: int = request.path_params["code"]
    if not 200 <= code <= 599:
        raise ProblemError(
            400,
            "The status code must be between 200 and 599.",
            errors=[FieldError("code", "Must be an integer between 200 and 599.")],
        )
    if code in BODYLESS_STATUSES:
        return Response(status_code=code)
    return JSONResponse({"status": code}, status_code=code)


class _AnyMethod:
    """ASGI wrapper so a Starlette ``Route`` accepts every method.

    ``Route`` limits plain function endpoints to GET/HEAD when no method list is given, and
    a method list cannot express "any method" (e.g. PROPFIND). Wrapping the endpoint in an
    ASGI app lifts that restriction; exceptions still reach the app's handlers.
    """

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self._app = request_response(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


any_method_routes = [
    Route(f"{PREFIX}/echo", _AnyMethod(echo), name="test-echo", include_in_schema=False),
    Route(
        f"{PREFIX}/echo/{{rest:path}}",
        _AnyMethod(echo),
        name="test-echo-path",
        include_in_schema=False,
    ),
    Route(
        f"{PREFIX}/status/{{code:int}}",
        _AnyMethod(status),
        name="test-status",
        include_in_schema=False,
    ),
]


# --- stream / delay ----------------------------------------------------------------------


async def _stream_lines(chunks: int, interval_s: float, size: int) -> AsyncIterator[bytes]:
    padding = "x" * size
    for index in range(chunks):
        if index and interval_s:
            await asyncio.sleep(interval_s)
        line = json.dumps({"index": index, "padding": padding}, separators=(",", ":"))
        yield line.encode("ascii") + b"\n"


@router.get("/stream")
async def stream(
    chunks: Annotated[int, Query(ge=0, le=MAX_STREAM_CHUNKS)] = 5,
    interval_ms: Annotated[int, Query(ge=0, le=MAX_STREAM_INTERVAL_MS)] = 100,
    size: Annotated[int, Query(ge=0, le=MAX_STREAM_CHUNK_SIZE)] = 16,
) -> StreamingResponse:
    """Newline-delimited JSON sent chunk by chunk with a pause between chunks."""
    return StreamingResponse(
        _stream_lines(chunks, interval_ms / 1000, size),
        media_type="application/x-ndjson",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/delay")
async def delay(ms: Annotated[int, Query(ge=0, le=MAX_DELAY_MS)] = 500) -> dict[str, int]:
    await asyncio.sleep(ms / 1000)
    return {"slept_ms": ms}


# --- large / cookie / redirect -----------------------------------------------------------


def large_body(kb: int) -> bytes:
    """A JSON document of exactly ``kb`` KiB (or a minimal document for ``kb == 0``)."""
    prefix = b'{"kb":%d,"padding":"' % kb
    suffix = b'"}'
    padding_length = max(0, kb * 1024 - len(prefix) - len(suffix))
    repeats = padding_length // len(_PADDING_ALPHABET) + 1
    padding = (_PADDING_ALPHABET * repeats)[:padding_length]
    return prefix + padding + suffix


@router.get("/large")
async def large(
    kb: Annotated[int, Query(ge=0, le=MAX_LARGE_KB)] = 100,
    use_gzip: Annotated[int, Query(alias="gzip", ge=0, le=1)] = 0,
) -> Response:
    body = large_body(kb)
    headers = {}
    if use_gzip:
        body = gzip.compress(body, mtime=0)
        headers["Content-Encoding"] = "gzip"
    # Response sets Content-Length from the (possibly compressed) body.
    return Response(body, media_type="application/json", headers=headers)


@router.get("/cookie")
async def cookie() -> JSONResponse:
    """Two separate ``Set-Cookie`` headers, emitted verbatim."""
    response = JSONResponse({"cookies": list(TEST_COOKIES)})
    for header_value in TEST_COOKIES:
        response.headers.append("Set-Cookie", header_value)
    return response


def validate_redirect_target(target: str | None) -> str:
    """Only local absolute paths are allowed (no ``//host`` or backslash tricks)."""
    message = "Must be a path starting with '/'."
    if not target:
        raise ProblemError(
            400, "The 'to' query parameter is required.", errors=[FieldError("to", message)]
        )
    unsafe = (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)
    )
    if unsafe:
        raise ProblemError(
            400, "The redirect target must be a local path.", errors=[FieldError("to", message)]
        )
    return quote(target, safe=_URI_SAFE)


def _host_header(request: Request) -> str:
    host = request.headers.get("host", "")
    if not host or any(char in host for char in "/\\@ ") or not host.isprintable():
        raise ProblemError(400, "The request has no valid Host header.")
    return host


@router.get("/redirect")
async def redirect(
    request: Request,
    to: str | None = None,
    absolute: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    target = validate_redirect_target(to)
    if absolute:
        target = f"http://{_host_header(request)}{target}"
    return Response(status_code=302, headers={"Location": target})
