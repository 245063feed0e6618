"""Request/response middleware for the catalog service."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")

GetResponse = Callable[[HttpRequest], HttpResponseBase]


def normalise_request_id(value: str | None) -> str:
    """Return ``value`` if it is a safe request id, otherwise a fresh uuid4 hex string."""
    if value is not None and _REQUEST_ID_RE.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Propagate ``X-Request-ID``.

    The incoming id is kept when it matches ``[A-Za-z0-9._-]{1,128}``; otherwise a new one
    is generated. It is stored as ``request.request_id`` and returned on every response.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = normalise_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


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
