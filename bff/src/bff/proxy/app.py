"""The proxy: a plain WSGI app in front of Flask, so a proxied request costs as little as possible.

Requests under a route prefix are handled here directly; everything else falls through to Flask
(health, OpenAPI, and later endpoints). A request body is read in one go only when it is small
(and so can be replayed for a retry), otherwise streamed. A response body that did not arrive
with its head is pumped from the upstream into a bounded buffer (memory, then a temporary file)
while the client reads at its own pace, so a slow or stalled client never holds an upstream.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import ClientDisconnected

from .. import access
from ..problems import is_problem, problem_body, problem_headers, public_problem, status_line
from ..settings import IDEMPOTENT_METHODS, Route, Settings
from . import headers as hdr
from .buffering import ResponseBuffer
from .client import (
    HeaderInjection,
    Response,
    UpstreamError,
    build_head,
    read_response,
    send_request,
)
from .paths import PathRejected, raw_request_path, rebase_path
from .pool import Pool, UpstreamClients

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("bff.proxy")

# Bodies up to this size are read whole: one write upstream, and replayable for a retry.
SMALL_BODY = 65_536
CHUNK = 65_536
_NO_BODY_STATUSES = frozenset({204, 304})


class BodyTooLarge(Exception):
    """The request body grew past the route's cap while streaming."""


class ClientBodyError(Exception):
    """The client's request body could not be read (disconnect, truncated chunking)."""


class UpstreamAborted(Exception):
    """The upstream failed after the response started; the client connection must be cut."""


def _read_exact(stream: Any, length: int) -> bytes:
    try:
        data: bytes = stream.read(length)
    except (OSError, ValueError, ClientDisconnected) as exc:
        raise ClientBodyError(str(exc)) from exc
    if len(data) != length:
        raise ClientBodyError("request body shorter than Content-Length")
    return data


def _stream_fixed(stream: Any, length: int) -> Iterator[bytes]:
    remaining = length
    while remaining > 0:
        try:
            chunk: bytes = stream.read(min(CHUNK, remaining))
        except (OSError, ValueError, ClientDisconnected) as exc:
            raise ClientBodyError(str(exc)) from exc
        if not chunk:
            raise ClientBodyError("request body shorter than Content-Length")
        remaining -= len(chunk)
        yield chunk


def _stream_chunked(
    stream: Any, cap: int, counted: dict[str, Any] | None = None
) -> Iterator[bytes]:
    total = 0
    while True:
        try:
            chunk: bytes = stream.read(CHUNK)
        except (OSError, ValueError, ClientDisconnected) as exc:
            raise ClientBodyError(str(exc)) from exc
        if not chunk:
            return
        total += len(chunk)
        if total > cap:
            raise BodyTooLarge
        if counted is not None:
            counted["bff.bytes_in"] = total
        yield chunk


def _spool_chunked(stream: Any, cap: int) -> tuple[bytes | Iterator[bytes], int]:
    """Read a chunked body up to ``cap`` into memory (small) or a temporary file (large).

    WSGI upstreams (Django among them) ignore request bodies without Content-Length, so by
    default a chunked body is collected first and sent with a length, as nginx does.
    Memory stays bounded: beyond SMALL_BODY the bytes go to disk.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SMALL_BODY)
    try:
        total = 0
        for piece in _stream_chunked(stream, cap):
            total += len(piece)
            spool.write(piece)
        spool.seek(0)
        if total <= SMALL_BODY:
            data = spool.read()
            spool.close()
            return data, total
    except BaseException:
        spool.close()
        raise

    def pieces() -> Iterator[bytes]:
        with spool:
            while piece := spool.read(CHUNK):
                yield piece

    return pieces(), total


def _declared_length(headers: list[tuple[str, str]]) -> int:
    """The response's Content-Length (llhttp checked it), or a huge number when it has none."""
    length = 1 << 62
    for name, value in headers:
        lower = name.lower()
        if lower == "transfer-encoding":
            return 1 << 62
        if lower == "content-length":
            length = int(value)
    return length


def _log_ids(environ: WSGIEnvironment) -> dict[str, str | None]:
    """The request's ids for a log record's ``extra`` (set in ``environ`` as the request starts)."""
    return {"request_id": environ.get("bff.request_id"), "trace_id": environ.get("bff.trace_id")}


def _public_problem(
    data: bytes, headers: list[tuple[str, str]], environ: WSGIEnvironment
) -> tuple[bytes, list[tuple[str, str]]]:
    """An upstream's small problem document as the BFF's own: the public path as ``instance``
    and the request id; its Content-Length follows. Anything else passes unchanged.

    A HEAD response has no body to rewrite, so its Content-Length (the upstream's GET length)
    is dropped rather than sent wrong: the rewritten GET body has another length (RFC 9110
    section 8.6 lets a HEAD response omit it, never misstate it)."""
    if environ.get("REQUEST_METHOD") == "HEAD":
        return data, [(name, value) for name, value in headers if name.lower() != "content-length"]
    body = public_problem(data, environ.get("PATH_INFO", ""), environ["bff.request_id"])
    if body is None:
        return data, headers
    kept = [(name, value) for name, value in headers if name.lower() != "content-length"]
    kept.append(("Content-Length", str(len(body))))
    return body, kept


class _Body(Iterable[bytes]):
    """A proxied response body: pumped from the upstream into a bounded buffer (so a slow client
    never holds the upstream), handed to the client as it reads. The upstream connection goes
    back to the pool as soon as the upstream has sent the whole body."""

    __slots__ = (
        "_resp",
        "_pool",
        "_buffer",
        "_request_id",
        "_route",
        "_environ",
        "_closed",
        "_sent",
        "_finished",
    )

    def __init__(
        self,
        resp: Response,
        pool: Pool,
        request_id: str,
        route: Route,
        environ: WSGIEnvironment,
        memory_bytes: int,
        max_file_bytes: int,
    ) -> None:
        self._resp = resp
        self._pool = pool
        self._request_id = request_id
        self._route = route
        self._environ = environ
        self._closed = False
        self._sent = 0
        self._finished = False
        self._buffer = ResponseBuffer(resp.stream(), memory_bytes, max_file_bytes, self._release)
        self._buffer.start()

    def _release(self, error: BaseException | None) -> None:
        resp = self._resp
        if error is None and resp.keep_alive:
            self._pool.put(resp.conn)
        else:
            resp.conn.close()

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        try:
            for piece in self._buffer:
                sent += len(piece)
                self._sent = sent
                yield piece
        except UpstreamError as exc:
            log.warning(
                "upstream %s failed mid-response after %d bytes: %s",
                self._route.upstream.name,
                sent,
                exc,
                extra=_log_ids(self._environ),
            )
            raise UpstreamAborted(str(exc)) from exc
        self._finished = True

    def close(self) -> None:
        """Stop the pump if the client went away; write the access record."""
        if self._closed:
            return
        self._closed = True
        self._buffer.close()
        access.emit(self._environ, self._resp.status, self._sent, aborted=not self._finished)


class ProxyApp:
    """WSGI middleware that serves route prefixes by proxying and passes the rest on."""

    def __init__(
        self,
        settings: Settings,
        fallback: WSGIApplication,
        clients: UpstreamClients,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.fallback = fallback
        self.clients = clients
        # resolved per call: gevent patches time.sleep after this module may have been imported
        self._sleep = sleep or (lambda seconds: time.sleep(seconds))
        self._routes = tuple((r.prefix, r.prefix + "/", r) for r in settings.routes)

    def match(self, path: str) -> Route | None:
        """The route whose prefix owns ``path`` (longest prefix first), if any."""
        if not path.startswith("/api"):
            return None
        for prefix, prefix_slash, route in self._routes:
            if path == prefix or path.startswith(prefix_slash):
                return route
        return None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        route = self.match(environ.get("PATH_INFO", ""))
        if route is None:
            return self.fallback(environ, start_response)
        return self.proxy(route, environ, start_response)

    def _problem(
        self,
        start_response: StartResponse,
        status: int,
        slug: str,
        detail: str,
        request_id: str,
        environ: WSGIEnvironment,
        extra_headers: list[tuple[str, str]] | None = None,
    ) -> list[bytes]:
        body = problem_body(
            status,
            slug,
            detail,
            request_id=request_id,
            instance=environ.get("PATH_INFO"),
        )
        environ["bff.problem"] = slug
        headers = problem_headers(body, request_id, extra_headers)
        if slug in ("body-too-large", "bad-body"):
            # The rest of a refused body is never read: the connection cannot carry another
            # request, so it is closed (the server must not drain, say, 10 GB first).
            environ["bff.close_connection"] = True
            headers.append(("Connection", "close"))
        start_response(status_line(status), headers)
        access.emit(environ, status, len(body))
        return [body]

    def _too_large(
        self, start_response: StartResponse, route: Route, request_id: str, environ: WSGIEnvironment
    ) -> list[bytes]:
        detail = (
            f"request body exceeds the limit of {route.max_body_bytes} bytes for {route.prefix}"
        )
        return self._problem(start_response, 413, "body-too-large", detail, request_id, environ)

    def proxy(
        self, route: Route, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Forward one request to ``route``'s upstream and stream the answer back."""
        started = time.monotonic()
        request_id = hdr.request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        environ["bff.started"] = started
        environ["bff.request_id"] = request_id
        environ["bff.route"] = route.name
        environ["bff.upstream"] = route.upstream.name
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in route.methods:
            allow = ", ".join(sorted(route.methods))
            return self._problem(
                start_response,
                405,
                "method-not-allowed",
                f"{method} is not allowed on {route.prefix}",
                request_id,
                environ,
                [("Allow", allow)],
            )
        try:
            path = rebase_path(raw_request_path(environ), route.prefix, route.target_prefix)
        except PathRejected as exc:
            return self._problem(start_response, 400, "bad-path", str(exc), request_id, environ)
        query = environ.get("QUERY_STRING")
        url = f"{path}?{query}" if query else path

        trace_id, traceparent = hdr.traceparent_from(environ.get("HTTP_TRACEPARENT"))
        environ["bff.trace_id"] = trace_id
        out_headers = hdr.upstream_request_headers(
            environ,
            route,
            request_id=request_id,
            traceparent=traceparent,
            tracestate=environ.get("HTTP_TRACESTATE"),
            trusted_proxies=self.settings.trusted_proxies,
        )

        # Request body: fixed length (small: read whole; large: streamed) or chunked (streamed).
        body: bytes | Iterator[bytes] | None = None
        chunked = False
        raw_length = environ.get("CONTENT_LENGTH")
        stream = environ.get("wsgi.input")
        if raw_length:
            try:
                length = int(raw_length)
            except ValueError:
                length = -1
            if length < 0:
                return self._problem(
                    start_response,
                    400,
                    "bad-request",
                    "invalid Content-Length",
                    request_id,
                    environ,
                )
            if length > route.max_body_bytes:
                return self._problem(
                    start_response,
                    413,
                    "body-too-large",
                    f"request body of {length} bytes exceeds the limit of "
                    f"{route.max_body_bytes} bytes for {route.prefix}",
                    request_id,
                    environ,
                )
            out_headers["content-length"] = str(length)
            if length <= SMALL_BODY:
                try:
                    body = _read_exact(stream, length) if length else b""
                except ClientBodyError as exc:
                    return self._problem(
                        start_response, 400, "bad-body", str(exc), request_id, environ
                    )
            else:
                body = _stream_fixed(stream, length)
        elif "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            if route.chunked_requests == "stream":
                body = _stream_chunked(stream, route.max_body_bytes, environ)
                chunked = True
                out_headers["transfer-encoding"] = "chunked"
            else:
                try:
                    body, length = _spool_chunked(stream, route.max_body_bytes)
                except BodyTooLarge:
                    return self._too_large(start_response, route, request_id, environ)
                except ClientBodyError as exc:
                    return self._problem(
                        start_response, 400, "bad-body", str(exc), request_id, environ
                    )
                out_headers["content-length"] = str(length)
        if not chunked:
            environ["bff.bytes_in"] = int(out_headers.get("content-length", 0))

        try:
            head = build_head(method, url, out_headers)
        except HeaderInjection as exc:
            return self._problem(start_response, 400, "bad-header", str(exc), request_id, environ)

        upstream = route.upstream
        breaker = self.clients.breaker(upstream.name)
        if not breaker.allow():
            wait = max(1, int(breaker.retry_after() + 0.999))
            return self._problem(
                start_response,
                503,
                "circuit-open",
                f"upstream {upstream.name} is failing; not contacted for {wait} s",
                request_id,
                environ,
                [("Retry-After", str(wait))],
            )

        pool = self.clients.pool(upstream.name)
        deadline = started + route.deadline
        idempotent = method in IDEMPOTENT_METHODS
        upstream_started = time.monotonic()
        resp: Response | None = None
        failure: tuple[int, str, str] | None = None
        attempt = 0
        body_started = False
        for attempt in range(1 + route.retries):
            if attempt:
                backoff = route.retry_backoff * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5)  # noqa: S311
                self._sleep(max(0.0, min(backoff, deadline - time.monotonic())))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                failure = (504, "upstream-timeout", "deadline passed before the upstream answered")
                break
            try:
                conn = pool.get(min(route.connect_timeout, remaining))
            except UpstreamError as exc:
                if exc.kind == "connect_timeout":
                    failure = (504, "upstream-timeout", f"timed out connecting to {upstream.name}")
                else:
                    failure = (502, "upstream-unreachable", f"cannot connect to {upstream.name}")
                # nothing was sent: any method may try again while its body is untouched
                if body_started and not isinstance(body, bytes):
                    break
                continue
            read_timeout = min(route.read_timeout, deadline - time.monotonic())
            try:
                conn.sock.settimeout(max(0.001, read_timeout))
                body_started = True
                send_request(conn, head, body, chunked)
                resp = read_response(conn, method, max(0.001, read_timeout), deadline)
            except BodyTooLarge:
                conn.close()
                breaker.release()
                return self._too_large(start_response, route, request_id, environ)
            except ClientBodyError as exc:
                conn.close()
                breaker.release()
                return self._problem(start_response, 400, "bad-body", str(exc), request_id, environ)
            except UpstreamError as exc:
                conn.close()
                if exc.kind == "read_timeout":
                    failure = (504, "upstream-timeout", f"{upstream.name} did not answer in time")
                    break  # the upstream may still be working on it: never repeat a slow request
                failure = (502, "upstream-bad-response", f"{upstream.name}: {exc}")
                if not idempotent or not isinstance(body, bytes | None):
                    break
                continue
            if resp.status in route.retry_on_status and idempotent and attempt < route.retries:
                failure = (resp.status, "upstream-status", "")
                self._discard(resp, pool)
                resp = None
                continue
            failure = None
            break
        environ["bff.retries"] = attempt
        environ["bff.upstream_ms"] = (time.monotonic() - upstream_started) * 1000.0

        if resp is None:
            breaker.record_failure()
            status, slug, detail = failure or (502, "upstream-bad-response", "no answer")
            if slug == "upstream-status":
                status, slug, detail = 502, "upstream-bad-response", f"{upstream.name} kept failing"
            log.warning(
                "upstream %s: %s (%s)",
                upstream.name,
                detail,
                slug,
                extra=_log_ids(environ),
            )
            return self._problem(start_response, status, slug, detail, request_id, environ)

        edge = self.settings.edge
        if not resp.complete and _declared_length(resp.headers) <= edge.proxy_buffer_bytes:
            # small and of known length: read it whole here, at the upstream's speed (no pump),
            # and a failure is still a clean 502 since nothing has gone to the client yet
            try:
                resp.read_to_end()
            except UpstreamError as exc:
                resp.conn.close()
                breaker.record_failure()
                log.warning(
                    "upstream %s: broken response body: %s",
                    upstream.name,
                    exc,
                    extra=_log_ids(environ),
                )
                slug, status = (
                    ("upstream-timeout", 504)
                    if exc.kind == "read_timeout"
                    else ("upstream-bad-response", 502)
                )
                return self._problem(
                    start_response, status, slug, f"{upstream.name}: {exc}", request_id, environ
                )
        breaker.record_success()
        environ["bff.upstream_status"] = resp.status
        response_headers = hdr.response_headers(resp.headers, route, request_id)
        if resp.complete:  # the whole body came with the head: no buffering needed
            data = b"".join(resp.stream())
            if resp.keep_alive:
                pool.put(resp.conn)
            else:
                resp.conn.close()
            if is_problem(response_headers):
                data, response_headers = _public_problem(data, response_headers, environ)
            start_response(status_line(resp.status, resp.reason), response_headers)
            access.emit(environ, resp.status, len(data))
            return [data] if data else []
        start_response(status_line(resp.status, resp.reason), response_headers)
        return _Body(
            resp,
            pool,
            request_id,
            route,
            environ,
            edge.proxy_buffer_bytes,
            edge.proxy_max_temp_file_bytes,
        )

    @staticmethod
    def _discard(resp: Response, pool: Pool) -> None:
        """Read and drop a small unwanted response so its connection can be reused."""
        try:
            total = 0
            for piece in resp.stream():
                total += len(piece)
                if total > SMALL_BODY:
                    resp.conn.close()
                    return
        except UpstreamError:
            resp.conn.close()
            return
        if resp.keep_alive:
            pool.put(resp.conn)
        else:
            resp.conn.close()
