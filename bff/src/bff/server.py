"""gunicorn integration: the worker class, and problem+json for requests rejected before the app.

The worker is gunicorn's gevent worker driving gevent's own WSGI server (``gevent_pywsgi``),
which measured about twice as fast here as gunicorn's ``gevent`` worker for the same app.
Its handler is tightened to the limits gunicorn enforces (request line, header count and size)
and answers every protocol error with RFC 9457 problem+json instead of an empty body.
"""

from __future__ import annotations

import logging
import re
import socket
from typing import Any, ClassVar

import gevent
from gevent import GreenletExit, pywsgi
from gunicorn import util
from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler

from .headers import new_id
from .problems import PROBLEM_CONTENT_TYPE, problem_body, reason

log = logging.getLogger("bff.server")

MAX_REQUEST_LINE = pywsgi.MAX_REQUEST_LINE  # 8192, as gevent enforces it
MAX_HEADERS = 100
MAX_HEADER_LINE = 8190


def problem_bytes(status: int, detail: str, title: str | None = None) -> bytes:
    """A complete HTTP/1.1 problem+json response that closes the connection."""
    request_id = new_id()
    phrase = title or reason(status) or "Error"
    slug = phrase.lower().replace(" ", "-")
    body = problem_body(status, slug, detail, request_id=request_id, title=phrase)
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {PROBLEM_CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        f"X-Request-ID: {request_id}\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


class _HeadersTooLarge(ValueError):
    pass


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class Handler(PyWSGIHandler):  # type: ignore[misc]
    """gevent's WSGI handler with gunicorn's limits, strict framing and problem+json errors.

    It also makes shutdown prompt: once the worker drains, idle keep-alive connections (a load
    balancer always holds some) are closed instead of holding the worker to its graceful
    timeout, while requests in flight finish.
    """

    _idle: ClassVar[set[Handler]] = set()
    draining: ClassVar[bool] = False

    @classmethod
    def close_idle(cls) -> None:
        """Stop reading new requests; shut idle keep-alive connections now."""
        cls.draining = True
        for handler in list(cls._idle):
            try:
                handler.socket.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass

    def read_requestline(self) -> Any:
        """Wait for the next request line (tracked as idle while waiting), after letting every
        other ready greenlet run.

        Without the yield, a keep-alive client that sends its next request before this greenlet
        reads again (any fast client on another core) is served back to back and never gives
        the hub a turn: the worker's other connections and timers (log shipping included)
        starve for hundreds of milliseconds.
        """
        gevent.sleep(0)
        if Handler.draining:
            return ""
        Handler._idle.add(self)
        try:
            return super().read_requestline()
        finally:
            Handler._idle.discard(self)

    def MessageClass(self, *args: Any) -> Any:  # noqa: N802 (gevent's name)
        """Parse headers and refuse ambiguous framing (request smuggling) and bad methods."""
        if not _TOKEN.fullmatch(self.command or ""):
            raise ValueError(f"invalid method {self.command[:32]!r}")
        headers = super().MessageClass(*args)
        te = headers.get_all("transfer-encoding")
        if te:
            if headers.get("content-length") is not None:
                raise ValueError("both Content-Length and Transfer-Encoding")
            if len(te) != 1 or te[0].strip().lower() != "chunked":
                raise ValueError(f"unsupported Transfer-Encoding {', '.join(te)[:64]!r}")
        lengths = headers.get_all("content-length")
        if lengths and (len(set(lengths)) != 1 or not lengths[0].strip().isdigit()):
            raise ValueError("invalid or repeated Content-Length")
        return headers

    def get_environ(self) -> Any:
        """The WSGI environ; an absolute-form target is reduced to its path (RFC 9112 3.2.2)."""
        path = str(getattr(self, "path", ""))
        if path and not path.startswith("/") and "://" in path:
            rest = path.split("://", 1)[1]
            slash = rest.find("/")
            query = rest.find("?")
            if slash == -1 or (query != -1 and query < slash):
                self.path = "/" + (rest[query:] if query != -1 else "")
            else:
                self.path = rest[slash:]
        return super().get_environ()

    def run_application(self) -> None:
        """Run the app; if it refused the request body, close instead of draining it."""
        super().run_application()
        if self.environ.get("bff.close_connection"):
            self.close_connection = True
            # gevent would otherwise read (and discard) the whole refused body first
            self.wsgi_input._chunked_input_error = True

    def handle_one_request(self) -> Any:
        """One request; problem+json for protocol errors; close after it when draining."""
        if self.rfile.closed:
            return None
        result = super().handle_one_request()
        if isinstance(result, tuple):
            status = result[0]
            if status == "414":
                return ("414", problem_bytes(414, f"request line longer than {MAX_REQUEST_LINE}"))
            if status == "400" and result[1] is pywsgi._BAD_REQUEST_RESPONSE:
                return ("400", problem_bytes(400, "malformed HTTP request"))
        if result is True and Handler.draining:
            return None
        return result

    def read_request(self, raw_requestline: str) -> bool:
        """Parse the request, then hold it to the header count and size limits."""
        ok: bool = super().read_request(raw_requestline)
        items = self.headers.items()
        if len(items) > MAX_HEADERS:
            raise _HeadersTooLarge(f"more than {MAX_HEADERS} header fields")
        for name, value in items:
            if len(name) + len(value) + 2 > MAX_HEADER_LINE:
                raise _HeadersTooLarge(
                    f"header field {name[:64]!r} exceeds {MAX_HEADER_LINE} bytes"
                )
        return ok

    def _handle_client_error(self, ex: Exception) -> tuple[str, bytes]:
        if isinstance(ex, _HeadersTooLarge):
            self._rejected(str(ex))
            return ("431", problem_bytes(431, str(ex)))
        message = str(ex)
        if message.startswith("unsupported Transfer-Encoding"):
            self._rejected(message)
            return ("501", problem_bytes(501, message))
        if "more than 100 headers" in message or "Line too long" in message:
            self._rejected(message)
            return ("431", problem_bytes(431, "request header fields too large"))
        self._rejected(message or type(ex).__name__)
        detail = message if isinstance(ex, ValueError) and len(message) < 200 else "malformed"
        return ("400", problem_bytes(400, f"malformed HTTP request: {detail}"))

    def _send_error_response_if_possible(self, error_code: int) -> None:
        if self.response_length:
            self.close_connection = True
            return
        status = 500 if error_code >= 500 else 400
        body = problem_body(
            status,
            "internal-error" if status == 500 else "bad-request",
            "the server failed to handle this request" if status == 500 else "malformed request",
            request_id=new_id(),
        )
        try:
            self.start_response(
                f"{status} {reason(status)}",
                [
                    ("Content-Type", PROBLEM_CONTENT_TYPE),
                    ("Content-Length", str(len(body))),
                    ("Connection", "close"),
                ],
            )
            self.write(body)
        except OSError:
            self.close_connection = True

    def log_request(self) -> None:
        """No per-request line from the server: the app writes a structured access record
        (gunicorn would otherwise build its access-log atoms for every request, for nothing)."""

    def handle_error(self, t: type[BaseException], v: BaseException, tb: Any) -> None:
        """An upstream that broke mid-response was logged already: just cut the connection."""
        from .proxy import UpstreamAborted  # imported late: the worker loads before the app

        if isinstance(v, UpstreamAborted):
            self.close_connection = True
            return
        if not issubclass(t, GreenletExit):
            log.error("unhandled error while serving a request", exc_info=(t, v, tb))
        self._send_error_response_if_possible(500)

    def _rejected(self, reason_: str) -> None:
        client = self.client_address[0] if isinstance(self.client_address, tuple) else ""
        log.warning(
            "rejected malformed request from %s: %s",
            client,
            reason_[:300],
            extra={"data": {"client_ip": client, "reason": reason_[:300]}},
        )

    def log_error(self, msg: str, *args: Any) -> None:
        """gevent's own error lines, as structured records instead of raw text on stderr."""
        try:
            message = msg % args if args else msg
        except (TypeError, ValueError):
            message = f"{msg!r} {args!r}"
        self._rejected(str(message))


class Worker(GeventPyWSGIWorker):  # type: ignore[misc]
    """gunicorn worker: gevent's WSGI server with the BFF's handler."""

    wsgi_handler = Handler

    def notify(self) -> None:
        """Heartbeat; once shutdown has begun, also close idle keep-alive connections."""
        super().notify()
        if not self.alive:
            Handler.close_idle()


def write_problem_error(sock: socket.socket, status_int: int, reason_: str, mesg: str) -> None:
    """Drop-in for ``gunicorn.util.write_error`` (used by gunicorn's other worker classes)."""
    util.write_nonblock(sock, problem_bytes(status_int, mesg or reason_, reason_))


def install_problem_errors() -> None:
    """Make gunicorn's own error pages (sync/gthread/gevent workers) problem+json too."""
    util.write_error = write_problem_error


def exit_worker(worker: Any) -> None:
    """Close pooled upstream connections when a worker exits."""
    app = getattr(worker, "wsgi", None)
    clients = getattr(app, "extensions", {}).get("bff.clients") if app is not None else None
    if clients is not None:
        clients.close()
