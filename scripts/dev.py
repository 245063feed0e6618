#!/usr/bin/env python3
"""Run the whole stack locally: Django, FastAPI, the BFF (gunicorn) and `next dev`.

Every part gets an embedded default, including a local CloudWatch Logs emulator (moto server)
and a redis-server for the BFF's rate limits and the ops view's error-group index
that every service ships its JSON logs to (`make logs` follows them); the web server's records
(JSON lines on its stdout) are shipped by a forwarder here (scripts/log_forwarder.py). Override
ports with DEV_WEB_PORT, DEV_BFF_PORT, DEV_DJANGO_PORT, DEV_FASTAPI_PORT, DEV_LOGS_PORT,
DEV_REDIS_PORT.

Output of each part is prefixed with its name, and JSON records are shown as one short line
(``time service level logger message request_id``, the stack under an error); the emulator's
request lines and ``logship stats`` records are left out (they are in the log group).
DEV_LOG_FORMAT=json shows every line as written. Ctrl-C (or SIGTERM) stops everything cleanly;
if one part dies, the others are stopped too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from log_forwarder import Forwarder  # noqa: E402 - a sibling script, found through the path above

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
COLOURS = {"logs": "34", "redis": "31", "django": "32", "fastapi": "36", "bff": "35", "web": "33"}
USE_COLOUR = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
LEVEL_COLOURS = {"WARNING": "33", "ERROR": "31", "CRITICAL": "31;1"}
#: A werkzeug request line of the emulator: `127.0.0.1 - - [date] "POST / HTTP/1.1" 200 -`.
EMULATOR_REQUEST = re.compile(r'"[A-Z]+ \S+ HTTP/[0-9.]+" ([0-9]{3}) ')
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
HIDDEN_LOGGERS = frozenset({"logship.stats", "bff.metrics"})
MAX_MESSAGE_CHARS = 240


@dataclass
class Part:
    """One process of the stack."""

    name: str
    argv: list[str]
    port: int
    #: An HTTP path to poll, or None for a Redis PING on the port.
    health: str | None
    env: dict[str, str]
    cwd: Path = ROOT
    proc: subprocess.Popen[bytes] | None = None
    #: Ships the part's stdout records to CloudWatch (the web server, which has no shipper).
    forward: bool = False
    forwarder: Forwarder | None = None
    pump_thread: threading.Thread | None = field(default=None, repr=False)


def paint(name: str, text: str) -> str:
    """Colour ``text`` for ``name`` when writing to a terminal."""
    return f"\033[{COLOURS.get(name, '0')}m{text}\033[0m" if USE_COLOUR else text


def port_from(variable: str, default: int) -> int:
    """A port from the environment, or the default."""
    raw = os.environ.get(variable, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        sys.exit(f"dev: {variable} must be a port number, got {raw!r}")


def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stack() -> list[Part]:
    """The parts, in start order, wired to each other."""
    web = port_from("DEV_WEB_PORT", 3000)
    bff = port_from("DEV_BFF_PORT", 8080)
    django = port_from("DEV_DJANGO_PORT", 8001)
    fastapi = port_from("DEV_FASTAPI_PORT", 8002)
    logs = port_from("DEV_LOGS_PORT", 4566)
    redis = port_from("DEV_REDIS_PORT", 6379)
    py = str(VENV_BIN / "python")
    data_dir = ROOT / ".run"
    data_dir.mkdir(exist_ok=True)

    def logging_env(service: str) -> dict[str, str]:
        return {
            "LOG_SERVICE": service,
            "LOG_ENVIRONMENT": "development",
            "LOG_CLOUDWATCH_GROUP": os.environ.get("LOG_CLOUDWATCH_GROUP", "/front-door/dev"),
            "LOG_CLOUDWATCH_ENDPOINT": f"http://127.0.0.1:{logs}",
            "LOG_CLOUDWATCH_CREATE_GROUP": "1",
            "LOG_SPOOL_DIR": str(data_dir / "log-spool" / service),
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }

    return [
        Part(
            "logs",
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(logs)],
            logs,
            "/moto-api/",
            {},
        ),
        Part(
            "redis",
            [
                "redis-server",
                *("--bind", "127.0.0.1", "--port", str(redis), "--save", ""),
                *("--appendonly", "no", "--loglevel", "warning"),
            ],
            redis,
            None,
            {},
        ),
        Part(
            "django",
            [py, "upstreams/django_api/run.py", "--host", "127.0.0.1", "--port", str(django)],
            django,
            "/healthz",
            {"CATALOG_DB_PATH": str(data_dir / "catalog.sqlite3"), **logging_env("catalog")},
        ),
        Part(
            "fastapi",
            [py, "upstreams/fastapi_api/run.py", "--host", "127.0.0.1", "--port", str(fastapi)],
            fastapi,
            "/healthz",
            {"CATALOG_API_URL": f"http://127.0.0.1:{django}", **logging_env("orders")},
        ),
        Part(
            "bff",
            [str(VENV_BIN / "gunicorn"), "-c", "bff/gunicorn.conf.py", "bff:create_app()"],
            bff,
            "/healthz",
            {
                "BFF_BIND": f"127.0.0.1:{bff}",
                "BFF_UPSTREAM_CATALOG_URL": f"http://127.0.0.1:{django}",
                "BFF_UPSTREAM_ORDERS_URL": f"http://127.0.0.1:{fastapi}",
                "BFF_ENV": "development",
                "BFF_RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{redis}/0",
                **logging_env("bff"),
            },
        ),
        Part(
            "web",
            [
                str(ROOT / "web" / "node_modules" / ".bin" / "next"),
                "dev",
                "-p",
                str(web),
                "-H",
                "127.0.0.1",
            ],
            web,
            "/",
            {
                "BFF_URL": f"http://127.0.0.1:{bff}",
                "NEXT_TELEMETRY_DISABLED": "1",
                # LOG_SERVICE and LOG_ENVIRONMENT name the web's records; the LOG_CLOUDWATCH_*
                # values configure the forwarder that ships them.
                **logging_env("web"),
            },
            cwd=ROOT / "web",
            forward=True,
        ),
    ]


def compact(record: dict[str, object]) -> str:
    """A JSON log record as one short line: time, service, level, logger, message, request id;
    an exception adds its stack, indented, on the lines below."""
    stamp = str(record.get("timestamp") or "")
    clock = stamp[11:23] if len(stamp) >= 23 else stamp
    level = str(record.get("level") or "")
    message = " ".join(str(record.get("message") or "").split())
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "\u2026"
    fields = [clock, str(record.get("service") or "-"), f"{level:<7}"]
    fields += [str(record.get("logger") or "-"), message]
    request_id = record.get("request_id")
    if request_id:
        fields.append(f"[{request_id}]")
    line = " ".join(fields)
    if USE_COLOUR and level in LEVEL_COLOURS:
        line = f"\033[{LEVEL_COLOURS[level]}m{line}\033[0m"
    exception = record.get("exception")
    if isinstance(exception, dict):
        stack = str(exception.get("stack") or "").strip()
        head = f"{exception.get('type', '')}: {exception.get('message', '')}"
        lines = stack.splitlines() or [head]
        line += "".join(f"\n{'':>10}  {text}" for text in lines[:40])
    return line


def render(part_name: str, text: str, raw: bool = False) -> str | None:
    """What ``make dev`` shows for one line of a part's output, or None to leave it out."""
    if raw:
        return text
    if part_name == "logs":
        match = EMULATOR_REQUEST.search(ANSI.sub("", text))
        if match and int(match.group(1)) < 500:
            return None  # the emulator's own access lines: one per PutLogEvents
    if text.startswith("{"):
        try:
            record = json.loads(text)
        except ValueError:
            return text
        if isinstance(record, dict) and "level" in record and "message" in record:
            if record.get("logger") in HIDDEN_LOGGERS:
                return None
            return compact(record)
    return text


def pump(part: Part) -> None:
    """Copy a child's output to ours, one prefixed line at a time; forward the web's records."""
    if part.proc is None or part.proc.stdout is None:
        return
    label = paint(part.name, f"{part.name:>8} |")
    raw = os.environ.get("DEV_LOG_FORMAT", "").strip().lower() == "json"
    for chunk in iter(part.proc.stdout.readline, b""):
        text = chunk.decode("utf-8", "replace").rstrip()
        if part.forwarder is not None:
            part.forwarder.offer(text)
        shown = render(part.name, text, raw)
        if shown is not None:
            sys.stdout.write(f"{label} {shown}\n")
            sys.stdout.flush()
    if part.forwarder is not None:
        part.forwarder.close()


def redis_answers(port: int) -> bool:
    """True when a Redis server on the loopback port answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def wait_healthy(part: Part, timeout: float) -> bool:
    """Poll the part's health URL (or Redis PING) until it answers below 500, it dies, or time
    runs out."""
    url = f"http://127.0.0.1:{part.port}{part.health}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if part.proc is None or part.proc.poll() is not None:
            return False
        if part.health is None:
            if redis_answers(part.port):
                return True
            time.sleep(0.1)
            continue
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (loopback)
                if resp.status < 500:
                    return True
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    return False


def stop_all(parts: list[Part], grace: float = 30.0) -> None:
    """Stop the services, then the log emulator, so the services' last records still arrive.

    Each tier gets SIGTERM (in reverse start order) and ``grace`` seconds before SIGKILL.
    """
    services = [part for part in parts if part.name != "logs"]
    emulator = [part for part in parts if part.name == "logs"]
    _terminate(services, grace)
    for part in services:  # the web's forwarder delivers its last records
        if part.pump_thread is not None:
            part.pump_thread.join(grace)
    _terminate(emulator, grace)


def _terminate(parts: list[Part], grace: float) -> None:
    for part in reversed(parts):
        if part.proc is not None and part.proc.poll() is None:
            try:
                os.killpg(part.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for part in parts:
        if part.proc is None:
            continue
        try:
            part.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(part.proc.pid, signal.SIGKILL)
            part.proc.wait(5)


def main() -> int:
    """Start everything, print where it listens, and supervise until Ctrl-C."""
    parts = stack()
    if shutil.which("redis-server") is None:
        print(
            "dev: redis-server is not installed (make system-deps or apt-get install redis-server)",
            file=sys.stderr,
        )
        return 1
    busy = [p for p in parts if not port_is_free(p.port)]
    if busy:
        for p in busy:
            print(
                f"dev: port {p.port} for {p.name} is in use "
                f"(set DEV_{p.name.upper()}_PORT to use another)",
                file=sys.stderr,
            )
        return 1

    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    code = 0
    try:
        for part in parts:
            print(
                paint(part.name, f"dev: starting {part.name} on 127.0.0.1:{part.port} ..."),
                flush=True,
            )
            part.proc = subprocess.Popen(  # noqa: S603 (fixed argv)
                part.argv,
                cwd=part.cwd,
                env={**os.environ, **part.env},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            if part.forward:
                part.forwarder = Forwarder.from_env(part.env, part.name)
            part.pump_thread = threading.Thread(target=pump, args=(part,), daemon=True)
            part.pump_thread.start()
            if not wait_healthy(part, 180 if part.name == "web" else 60):
                if stopping.is_set():
                    return 130
                print(f"dev: {part.name} did not come up; stopping", file=sys.stderr)
                return 1
        port = {p.name: p.port for p in parts}
        bff = port["bff"]
        lines = [
            "",
            "  The stack is up:",
            f"    web (Next.js dev)    http://127.0.0.1:{port['web']}/",
            f"    ops view             http://127.0.0.1:{port['web']}/ops  "
            "(upstream health, log counters, client errors; no token in development)",
            f"    BFF (gunicorn)       http://127.0.0.1:{bff}/   "
            f"(OpenAPI: /openapi.json, health: /healthz, /readyz)",
            f"    Django catalog API   http://127.0.0.1:{port['django']}/catalog/items",
            f"    FastAPI orders API   http://127.0.0.1:{port['fastapi']}/orders  (docs: /docs)",
            f"    CloudWatch Logs      http://127.0.0.1:{port['logs']}  (local emulator; "
            "`make logs` follows every service)",
            f"    Redis                redis://127.0.0.1:{port['redis']}/0  "
            "(rate limits, the ops view's error-group index)",
            "  Ctrl-C stops everything.",
            "",
        ]
        print("\n".join(lines), flush=True)
        while not stopping.is_set():
            dead = [p for p in parts if p.proc is not None and p.proc.poll() is not None]
            if dead:
                for p in dead:
                    print(
                        f"dev: {p.name} exited with {p.proc.returncode if p.proc else '?'}; "
                        "stopping the rest",
                        file=sys.stderr,
                    )
                code = 1
                break
            stopping.wait(0.5)
    finally:
        print("dev: stopping ...", flush=True)
        stop_all(parts)
        print("dev: stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
