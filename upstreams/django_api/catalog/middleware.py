"""Request/response middleware for the catalog service."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.utils.log import log_response
from logship import context
from logship.access import log_access as write_access_record

REQUEST_ID_HEADER = "X-Request-ID"

GetResponse = Callable[[HttpRequest], HttpResponseBase]

access_log = logging.getLogger("catalog.access")


def normalise_request_id(value: str | None) -> str:
    """Return ``value`` if it is a safe request id (logship's rule: a short token carrying no
    personal data), otherwise a fresh uuid4 hex string."""
    return context.request_id_from(value)


def log_access(request: HttpRequest, status: int, bytes_out: int, started: float) -> None:
    """Write the access record of ``request`` (logger ``catalog.access``, level INFO).

    ``request_id``/``trace_id`` are not passed here: the JSON formatter takes them from the
    ids bound by :class:`RequestIdMiddleware`.
    """
    write_access_record(
        access_log,
        request.method or "",
        request.path,
        request.META.get("QUERY_STRING", ""),
        status,
        (time.perf_counter() - started) * 1000.0,
        bytes_out,
    )


class _AccessLoggedStream:
    """Wraps a streaming response's content: counts the bytes sent and writes the access
    record once the body is finished, or when the server closes the response early (client
    gone). Iteration happens after the middleware returned, so the ids are bound again."""

    def __init__(
        self,
        content: Iterator[bytes],
        request: HttpRequest,
        status: int,
        started: float,
        ids: context.LogContext,
    ) -> None:
        self._content = content
        self._request = request
        self._status = status
        self._started = started
        self._ids = ids
        self._bytes = 0
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            chunk = next(self._content)
        except StopIteration:
            self.close()
            raise
        self._bytes += len(chunk)
        return chunk

    def close(self) -> None:
        if self._done:
            return
        self._done = True
        with context.bind(request_id=self._ids.request_id, trace_id=self._ids.trace_id):
            log_access(self._request, self._status, self._bytes, self._started)


class RequestIdMiddleware:
    """Propagate ``X-Request-ID`` and write one access record per request.

    The incoming id is kept when it matches ``[A-Za-z0-9._-]{1,128}``; otherwise a new one
    is generated. It is stored as ``request.request_id``, returned on every response and,
    together with the trace id of a valid ``traceparent`` header, bound to
    :mod:`logship.context` while the request is handled, so every record logged meanwhile
    carries both. The access record (logger ``catalog.access``) is written when the
    response is ready, or at the end of the body for streaming responses.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        request_id = normalise_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        trace_id = context.trace_id_from_traceparent(request.headers.get("traceparent"))
        with context.bind(request_id=request_id, trace_id=trace_id) as ids:
            try:
                response = self.get_response(request)
            except Exception:
                # Django turns exceptions into responses below this middleware; this is
                # only reached if that machinery itself fails.
                log_access(request, 500, 0, started)
                raise
            response[REQUEST_ID_HEADER] = request_id
            if response.status_code >= 400:
                # Django logs error responses (logger django.request) after the whole
                # middleware chain, where the ids are no longer bound. Log them here, the
                # same way; Django then skips them. Unhandled exceptions were already logged,
                # with their traceback, further in (also with the ids).
                log_response(
                    "%s: %s",
                    response.reason_phrase,
                    request.path,
                    response=response,
                    request=request,
                )
            if getattr(response, "streaming", False) and not getattr(response, "is_async", False):
                stream: Any = response
                stream.streaming_content = _AccessLoggedStream(
                    iter(stream.streaming_content), request, response.status_code, started, ids
                )
            else:
                log_access(request, response.status_code, _body_length(response), started)
        return response


def _body_length(response: HttpResponseBase) -> int:
    if getattr(response, "streaming", False):
        return 0  # an async stream under WSGI: its size is not known here
    return len(getattr(response, "content", b""))


class AllowedHostsMiddleware:
    """Reject requests whose ``Host`` header is not in ``ALLOWED_HOSTS`` (400 problem).

    Django only validates the host when ``request.get_host()`` is called; this makes the
    check unconditional, as ``CommonMiddleware`` would.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request.get_host()  # raises DisallowedHost, rendered by handler400
        return self.get_response(request)


# Status codes whose responses never carry content (RFC 9110, sections 15.3.5 and 15.4.5).
_BODYLESS_STATUSES = frozenset({204, 304})


class ContentLengthMiddleware:
    """Frame buffered responses explicitly.

    * Sets ``Content-Length`` on buffered responses so clients can reuse connections.
      Unlike ``django.middleware.common.CommonMiddleware`` this never adds the header to
      1xx/204/304 responses, where RFC 9110 forbids or discourages it. Streaming responses
      are left alone so the server sends them with chunked transfer coding.
    * Drops the body of responses to ``HEAD`` requests (keeping ``Content-Length``):
      Django leaves that to the server and gunicorn logs a warning for every such response.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        status = response.status_code
        if (
            not response.streaming
            and not response.has_header("Content-Length")
            and status >= 200
            and status not in _BODYLESS_STATUSES
        ):
            response["Content-Length"] = str(len(response.content))
        if request.method == "HEAD":
            if response.streaming:
                # The original iterator is closed with the response, never consumed.
                response.streaming_content = []
            else:
                response.content = b""
        return response
