from __future__ import annotations

import json
import socket

from bff.server import write_problem_error


def test_gunicorn_errors_are_problem_json() -> None:
    a, b = socket.socketpair()
    with a, b:
        write_problem_error(a, 431, "Request Header Fields Too Large", "too many headers")
        a.shutdown(socket.SHUT_WR)
        raw = b.recv(65536)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 431 Request Header Fields Too Large"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"] == "application/problem+json"
    assert int(headers["Content-Length"]) == len(body)
    doc = json.loads(body)
    assert doc["status"] == 431 and doc["detail"] == "too many headers"
    assert doc["request_id"] == headers["X-Request-ID"]
