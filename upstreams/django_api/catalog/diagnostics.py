"""Diagnostic endpoints under ``/catalog/_test/`` used by the BFF's proxy tests.

They are mounted unless ``UPSTREAM_TEST_ENDPOINTS=0``. All numeric parameters are bounded
so the endpoints cannot be used to tie up the service indefinitely.

About the echoed ``path``: it is the request target exactly as the client sent it
(percent-encoding preserved, query string removed). Gunicorn exposes that as the
``RAW_URI`` WSGI variable (so does ``REQUEST_URI`` on some servers); when neither is
present (e.g. Django's test client) the decoded ``PATH_INFO`` is re-encoded with
``request.get_full_path()``, which cannot restore escapes such as ``%2F``.

About ``headers``: WSGI folds repeated request headers into one value before Django sees
them. Gunicorn joins them with ``","``; the echo reports that value unchanged. Gunicorn
also drops header names containing underscores.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Container, Iterator
from http import HTTPStatus
from http.cookies import Morsel
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.encoding import iri_to_uri

from catalog.api import api_view, int_query_param
from catalog.problems import FieldError, ProblemError

SERVICE_NAME = "catalog"

MAX_ECHO_BODY_BYTES = 64 * 1024 * 1024
_READ_CHUNK_BYTES = 64 * 1024

MAX_STREAM_CHUNKS = 1000
MAX_STREAM_INTERVAL_MS = 10_000
MAX_STREAM_CHUNK_SIZE = 1024 * 1024
MAX_DELAY_MS = 60_000
MAX_LARGE_KB = 51_200

# Status codes that must not carry content (RFC 9110 sections 15.3.5, 15.3.6, 15.4.5).
BODYLESS_STATUSES = frozenset({204, 205, 304})

# Set-Cookie values sent by /cookie, byte for byte (attribute order included).
TEST_COOKIES = (
    "session=abc; Path=/; HttpOnly; SameSite=Lax",
    "theme=dark; Path=/catalog; Max-Age=3600",
)

_PADDING_ALPHABET = b"abcdefghijklmnopqrstuvwxyz0123456789"


# --- echo --------------------------------------------------------------------------------


def _raw_path(request: HttpRequest) -> str:
    raw_uri = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if raw_uri:
        if not raw_uri.startswith("/"):  # absolute-form request target
            parts = urlsplit(raw_uri)
            return parts.path or "/"
        return str(raw_uri).split("?", 1)[0]
    return request.get_full_path().split("?", 1)[0]


def _request_headers(request: HttpRequest) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in request.META.items():
        if key.startswith("HTTP_"):
            headers[key[5:].lower().replace("_", "-")] = value
        elif key in {"CONTENT_TYPE", "CONTENT_LENGTH"} and value:
            headers[key.lower().replace("_", "-")] = value
    return dict(sorted(headers.items()))


def _read_body(request: HttpRequest) -> bytes:
    """Read the whole request body (up to ``MAX_ECHO_BODY_BYTES``).

    ``request.body`` is not used because it enforces ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and
    ignores bodies sent with ``Transfer-Encoding: chunked`` (no ``Content-Length``), which
    gunicorn decodes and marks with ``wsgi.input_terminated``.
    """
    too_large = ProblemError(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        f"The request body exceeds {MAX_ECHO_BODY_BYTES} bytes.",
    )
    content_length = request.META.get("CONTENT_LENGTH") or ""
    if content_length:
        if not content_length.isdigit():
            raise ProblemError(HTTPStatus.BAD_REQUEST, "Invalid Content-Length header.")
        if int(content_length) > MAX_ECHO_BODY_BYTES:
            raise too_large
        return bytes(request.read())
    if not request.META.get("wsgi.input_terminated"):
        return b""
    stream = request.META["wsgi.input"]
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(_READ_CHUNK_BYTES):
        total += len(chunk)
        if total > MAX_ECHO_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


@api_view(None)
def echo(request: HttpRequest, rest: str | None = None) -> JsonResponse:
    """Describe the request exactly as received (any method, any sub-path)."""
    body = _read_body(request)
    payload: dict[str, Any] = {
        "service": SERVICE_NAME,
        "method": request.method,
        "path": _raw_path(request),
        "query": request.META.get("QUERY_STRING", ""),
        "headers": _request_headers(request),
    }
    try:
        payload["body"] = body.decode("utf-8")
        payload["body_encoding"] = "utf-8"
    except UnicodeDecodeError:
        payload["body"] = base64.b64encode(body).decode("ascii")
        payload["body_encoding"] = "base64"
    payload["body_length"] = len(body)
    return JsonResponse(payload)


# --- stream / delay ----------------------------------------------------------------------


def _stream_lines(chunks: int, interval_s: float, size: int) -> Iterator[bytes]:
    padding = "x" * size
    for index in range(chunks):
        if index and interval_s:
            time.sleep(interval_s)
        line = json.dumps({"index": index, "padding": padding}, separators=(",", ":"))
        yield line.encode("ascii") + b"\n"


@api_view(["GET"])
def stream(request: HttpRequest) -> StreamingHttpResponse:
    """Newline-delimited JSON sent chunk by chunk with a pause between chunks."""
    chunks = int_query_param(request, "chunks", 5, minimum=0, maximum=MAX_STREAM_CHUNKS)
    interval_ms = int_query_param(
        request, "interval_ms", 100, minimum=0, maximum=MAX_STREAM_INTERVAL_MS
    )
    size = int_query_param(request, "size", 16, minimum=0, maximum=MAX_STREAM_CHUNK_SIZE)
    response = StreamingHttpResponse(
        _stream_lines(chunks, interval_ms / 1000, size), content_type="application/x-ndjson"
    )
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"
    return response


@api_view(["GET"])
def delay(request: HttpRequest) -> JsonResponse:
    milliseconds = int_query_param(request, "ms", 500, minimum=0, maximum=MAX_DELAY_MS)
    time.sleep(milliseconds / 1000)
    return JsonResponse({"slept_ms": milliseconds})


# --- status / large / cookie / redirect --------------------------------------------------


@api_view(None)
def status(request: HttpRequest, code: int) -> HttpResponse:
    """Respond with the requested status code (200-599), any method."""
    if not 200 <= code <= 599:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST,
            "The status code must be between 200 and 599.",
            errors=[FieldError("code", "Must be an integer between 200 and 599.")],
        )
    if code in BODYLESS_STATUSES:
        response = HttpResponse(status=code)
        del response["Content-Type"]
        return response
    return JsonResponse({"status": code}, status=code)


def large_body(kb: int) -> bytes:
    """A JSON document of exactly ``kb`` KiB (or a minimal document for ``kb == 0``)."""
    prefix = b'{"kb":%d,"padding":"' % kb
    suffix = b'"}'
    padding_length = max(0, kb * 1024 - len(prefix) - len(suffix))
    repeats = padding_length // len(_PADDING_ALPHABET) + 1
    padding = (_PADDING_ALPHABET * repeats)[:padding_length]
    return prefix + padding + suffix


@api_view(["GET"])
def large(request: HttpRequest) -> HttpResponse:
    kb = int_query_param(request, "kb", 100, minimum=0, maximum=MAX_LARGE_KB)
    use_gzip = int_query_param(request, "gzip", 0, minimum=0, maximum=1)
    body = large_body(kb)
    response = HttpResponse(content_type="application/json")
    if use_gzip:
        body = gzip.compress(body, mtime=0)
        response["Content-Encoding"] = "gzip"
    response.content = body
    response["Content-Length"] = str(len(body))
    return response


class _VerbatimCookie(Morsel[str]):
    """A cookie emitted exactly as given.

    Django renders cookies with ``http.cookies``, which sorts attributes and adds
    ``expires`` next to ``Max-Age``. The proxy tests compare the header text, so the value
    is kept verbatim instead.
    """

    def __init__(self, header_value: str) -> None:
        super().__init__()
        name, _, rest = header_value.partition("=")
        value = rest.split(";", 1)[0]
        self.set(name, value, value)
        self._header_value = header_value

    def OutputString(self, attrs: Container[str] | None = None) -> str:
        return self._header_value


@api_view(["GET"])
def cookie(request: HttpRequest) -> JsonResponse:
    """Two separate ``Set-Cookie`` headers."""
    response = JsonResponse({"cookies": list(TEST_COOKIES)})
    for header_value in TEST_COOKIES:
        morsel = _VerbatimCookie(header_value)
        response.cookies[morsel.key] = morsel
    return response


def validate_redirect_target(target: str | None) -> str:
    """Only local absolute paths are allowed (no ``//host`` or backslash tricks)."""
    message = "Must be a path starting with '/'."
    if not target:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST,
            "The 'to' query parameter is required.",
            errors=[FieldError("to", message)],
        )
    unsafe = (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)
    )
    if unsafe:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST,
            "The redirect target must be a local path.",
            errors=[FieldError("to", message)],
        )
    return target


@api_view(["GET"])
def redirect(request: HttpRequest) -> HttpResponse:
    target = iri_to_uri(validate_redirect_target(request.GET.get("to")))
    absolute = int_query_param(request, "absolute", 0, minimum=0, maximum=1)
    if absolute:
        target = f"http://{request.get_host()}{target}"
    response = HttpResponse(status=HTTPStatus.FOUND)
    del response["Content-Type"]
    response["Location"] = target
    return response
