#!/usr/bin/env python3
"""Edge benchmark: the BFF under slow-client attacks, measured by a legitimate client's probes.

Scenarios (each on fresh servers; a baseline with no attack always runs first):

* slowloris: N connections send a request head one byte per second and never finish it;
* idle: N connections send nothing;
* partial-body: N connections send a complete POST head (Content-Length: 100000) and then the
  body one byte per second;
* stalled-readers: 16 clients GET 50 MiB through the BFF from a thread-limited upstream and
  never read.

Meanwhile sequential probes (new connection each time, and a keep-alive connection) hit
/healthz and two proxied routes. Everything runs on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import errno
import heapq
import json
import math
import os
import platform
import resource
import select
import selectors
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for harness.py
from harness import (  # noqa: E402
    NOT_CHECKED,
    STOP_TIMEOUT_S,
    BenchError,
    Processes,
    bff_digest,
    busy_pct,
    cpu_model,
    cpu_sample,
    export_tree,
    free_port,
    log,
    on_sigterm,
    other_cpu_pct,
    package_version,
    positive_int,
    repo_commit,
    run_benchmark,
    stop_group,
    verdict_text,
    wait_until_ready,
    warn_if_busy,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HOST = "127.0.0.1"

SCENARIOS = ("slowloris", "idle", "partial-body", "stalled-readers")
ATTACKS = ("slowloris", "idle", "partial-body")
TITLES = {
    "baseline": "Baseline: no attack",
    "slowloris": "Slowloris: request heads at 1 byte/s",
    "idle": "Idle connections: nothing sent",
    "partial-body": "Partial bodies: POST, Content-Length 100000, body at 1 byte/s",
    "stalled-readers": "Stalled readers: GET 50 MiB through the BFF, never read",
}

DEFAULT_DURATION_S = 30.0
DEFAULT_CONNECTIONS = 3000
QUICK_DURATION_S = 3.0
QUICK_CONNECTIONS = 200
PROBE_TIMEOUT_S = 5.0
PROBE_INTERVAL_S = 0.05
WARMUP_PROBES = 10
STALLED_CLIENTS = 16
STALLED_RCVBUF = 4096
STALLED_SETTLE_S = 1.0  # for the big requests to reach the upstream
ATTACK_SETTLE_S = 1.0  # for the server to take in the attacker's connections
DRIP_INTERVAL_S = 1.0
PARTIAL_BODY_BYTES = 100_000
SLOW_HEADER_BYTES = 60_000  # one header value, sent a byte a second: never complete in a run

CONNECT_TIMEOUT_S = 5.0  # per attacker connection
RAMP_TIMEOUT_S = 20.0  # all attacker connections must be started within this
MAX_PENDING_CONNECTS = 256
ATTACKER_REPORT_TIMEOUT_S = 30.0
RECOVERY_TIMEOUT_S = 15.0
RECOVERY_PROBE_TIMEOUT_S = 2.0
MONITOR_INTERVAL_S = 0.25

SUCCESS_TARGET_PCT = 100.0
P99_TARGET_MS = 100.0

SMALL_BYTES = 1024  # both proxied probe routes answer exactly this many bytes (upstream.py)
PROBE_TARGETS: dict[str, tuple[str, int | None]] = {
    "healthz": ("/healthz", None),
    "static": ("/api/static/1k.json", SMALL_BYTES),
    "limited": ("/api/limited/small", SMALL_BYTES),
}
PROBE_LABELS = {
    "healthz": "healthz",
    "static": "proxied static 1k",
    "limited": "proxied limited small",
}

ROUTES_TOML = """\
# Edge benchmark routes; the timeouts are those of the production catalog route.
[upstreams.static]
health_path = "/healthz"

[upstreams.limited]
health_path = "/healthz"

[[routes]]
name = "static"
prefix = "/api/static"
upstream = "static"
upstream_prefix = "/static"
methods = ["GET", "HEAD", "POST"]
max_body_bytes = 1048576
connect_timeout = 1.0
read_timeout = 10.0
deadline = 30.0
retries = 1

[[routes]]
name = "limited"
prefix = "/api/limited"
upstream = "limited"
upstream_prefix = "/limited"
methods = ["GET", "HEAD"]
connect_timeout = 1.0
read_timeout = 10.0
deadline = 30.0
retries = 1
"""

# /proc/net/tcp states
TCP_ESTABLISHED = 0x01
TCP_CLOSE_WAIT = 0x08


# --------------------------------------------------------------------------------------------
# options


@dataclasses.dataclass(frozen=True)
class Options:
    """Parsed command-line options."""

    duration: float
    connections: int
    scenarios: tuple[str, ...]
    quick: bool
    json_path: Path | None
    bff_env: dict[str, str]
    bff_dir: Path | None
    bff_ref: str | None
    probe_timeout: float
    probe_interval: float
    stalled_clients: int
    keep_tmp: bool


def positive_float(text: str) -> float:
    """Parse a positive, finite number argument."""
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def parse_scenarios(text: str) -> tuple[str, ...]:
    """Parse a comma-separated scenario list ('all' for every scenario)."""
    names = {part.strip() for part in text.split(",") if part.strip()}
    if "all" in names:
        return SCENARIOS
    bad = sorted(names - set(SCENARIOS))
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"bad scenarios {bad}; choose from all,{','.join(SCENARIOS)}"
        )
    return tuple(s for s in SCENARIOS if s in names)


def parse_env(text: str) -> tuple[str, str]:
    """Parse one --bff-env NAME=VALUE pair (NAME must start with BFF_)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.startswith("BFF_") or not name.replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"expected BFF_NAME=VALUE, got {text!r}")
    return name, value


def parse_args(argv: Sequence[str]) -> Options:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=positive_float, default=None, help="seconds per scenario")
    p.add_argument(
        "--connections", type=positive_int, default=None, help="attacker connections (3000)"
    )
    p.add_argument(
        "--scenario",
        type=parse_scenarios,
        default=SCENARIOS,
        help="all (default) or a comma list of " + ",".join(SCENARIOS),
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 200 connections, 3 s")
    p.add_argument("--json", type=Path, default=None, help="write full results to this file")
    p.add_argument(
        "--bff-env",
        type=parse_env,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment variable for the BFF (repeatable), e.g. BFF_HEADER_TIMEOUT=10",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--bff-dir",
        type=Path,
        default=None,
        help="tree whose bff/ and lib/ to run (default: this checkout)",
    )
    which.add_argument(
        "--bff-ref",
        metavar="GIT_REF",
        default=None,
        help="run the BFF as of this commit (git archive into the temp dir)",
    )
    p.add_argument("--probe-timeout", type=positive_float, default=PROBE_TIMEOUT_S)
    p.add_argument("--probe-interval", type=positive_float, default=PROBE_INTERVAL_S)
    p.add_argument("--stalled-clients", type=positive_int, default=STALLED_CLIENTS)
    p.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (server logs)")
    ns = p.parse_args(argv)
    bff_dir = ns.bff_dir.resolve() if ns.bff_dir is not None else None
    if bff_dir is not None and not (bff_dir / "bff" / "gunicorn.conf.py").is_file():
        p.error(f"--bff-dir: no bff/gunicorn.conf.py under {bff_dir}")
    duration = ns.duration or (QUICK_DURATION_S if ns.quick else DEFAULT_DURATION_S)
    connections = ns.connections or (QUICK_CONNECTIONS if ns.quick else DEFAULT_CONNECTIONS)
    return Options(
        duration=duration,
        connections=connections,
        scenarios=ns.scenario,
        quick=ns.quick,
        json_path=ns.json,
        bff_env=dict(ns.bff_env),
        bff_dir=bff_dir,
        bff_ref=ns.bff_ref,
        probe_timeout=ns.probe_timeout,
        probe_interval=ns.probe_interval,
        stalled_clients=ns.stalled_clients,
        keep_tmp=ns.keep_tmp,
    )


# --------------------------------------------------------------------------------------------
# processes


def venv_bin(name: str) -> str:
    """Return a tool from the repository venv, falling back to the running interpreter's."""
    repo_bin = REPO / ".venv" / "bin" / name
    return str(repo_bin if repo_bin.exists() else Path(sys.executable).parent / name)


def base_env() -> dict[str, str]:
    """Return this process's environment without BFF_* and CloudWatch shipping variables."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BFF_") and not k.startswith("LOG_CLOUDWATCH_")
    }


@dataclasses.dataclass(frozen=True)
class Servers:
    """The BFF and its two upstreams, up and answering."""

    bff_port: int
    static_port: int
    limited_port: int


def wait_healthy(procs: Processes, name: str, proc: subprocess.Popen[bytes], port: int) -> None:
    """Poll GET /healthz until it answers 200; fail with the log if the process dies or hangs."""

    def not_healthy() -> str | None:
        client = HttpClient(port, keep_alive=False, timeout=2.0)
        try:
            status, _ = client.get("/healthz")
        except ProbeFailure as exc:
            return exc.kind
        finally:
            client.close()
        return None if status == 200 else f"HTTP {status}"

    wait_until_ready(procs, name, proc, not_healthy, f"healthy on port {port}")


def start_upstream(procs: Processes, name: str, port: int, worker_args: Sequence[str]) -> None:
    """Start the benchmark's upstream app (upstream.py) under gunicorn."""
    argv = [
        venv_bin("gunicorn"),
        "--bind",
        f"{HOST}:{port}",
        *worker_args,
        "--timeout",
        "30",
        "--graceful-timeout",
        "2",
        "--log-level",
        "warning",
        "--no-control-socket",
        "upstream:app",
    ]
    proc = procs.start(name, argv, cwd=HERE, env=base_env())
    wait_healthy(procs, name, proc, port)


def bff_environment(opts: Options, root: Path, tmp: Path, servers: Servers) -> dict[str, str]:
    """Return the BFF's environment: routes, upstream URLs, bind, and the --bff-env overrides."""
    routes = tmp / "routes.toml"
    routes.write_text(ROUTES_TOML)
    paths = [str(root / "bff" / "src"), str(root / "lib" / "logship" / "src")]
    env = base_env()
    if root != REPO:  # run another tree's code, ahead of the venv's editable install
        env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(":")
    env.update(
        {
            "BFF_BIND": f"{HOST}:{servers.bff_port}",
            "BFF_ROUTES_FILE": str(routes),
            "BFF_UPSTREAM_STATIC_URL": f"http://{HOST}:{servers.static_port}",
            "BFF_UPSTREAM_LIMITED_URL": f"http://{HOST}:{servers.limited_port}",
            **opts.bff_env,
        }
    )
    return env


def start_servers(procs: Processes, opts: Options, root: Path, tmp: Path) -> Servers:
    """Start the fast upstream, the thread-limited upstream and the BFF on free ports."""
    servers = Servers(bff_port=free_port(), static_port=free_port(), limited_port=free_port())
    start_upstream(
        procs,
        "upstream-static",
        servers.static_port,
        ["--worker-class", "gevent", "--workers", "1", "--worker-connections", "20000"]
        + ["--keep-alive", "10"],
    )
    start_upstream(
        procs,
        "upstream-limited",
        servers.limited_port,
        ["--worker-class", "gthread", "--workers", "1", "--threads", "8", "--keep-alive", "5"],
    )
    argv = [venv_bin("gunicorn"), "-c", "bff/gunicorn.conf.py", "bff:create_app()"]
    proc = procs.start("bff", argv, cwd=root, env=bff_environment(opts, root, tmp, servers))
    wait_healthy(procs, "bff", proc, servers.bff_port)
    return servers


# --------------------------------------------------------------------------------------------
# the probing client


class ProbeFailure(Exception):
    """A probe did not get a complete 2xx answer; kind says why."""

    def __init__(self, kind: str, got_bytes: bool = False) -> None:
        """Record the failure kind and whether any response byte had arrived."""
        super().__init__(kind)
        self.kind = kind
        self.got_bytes = got_bytes


class HttpClient:
    """A minimal HTTP/1.1 client on one loopback port with an overall deadline per request."""

    def __init__(self, port: int, keep_alive: bool, timeout: float) -> None:
        """Set up; the connection is opened by the first request."""
        self.port = port
        self.keep_alive = keep_alive
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = b""
        self.connects = 0

    def close(self) -> None:
        """Close the connection, if any."""
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock = None
        self.buf = b""

    def get(self, path: str) -> tuple[int, bytes]:
        """GET path; return (status, body) or raise ProbeFailure. Retries once on a stale
        keep-alive connection that closed before answering, as HTTP clients do."""
        deadline = time.monotonic() + self.timeout
        reused = self.sock is not None
        try:
            return self._exchange(path, deadline)
        except ProbeFailure as exc:
            self.close()
            if not (reused and exc.kind in ("closed", "reset") and not exc.got_bytes):
                raise
        try:
            return self._exchange(path, deadline)
        except ProbeFailure:
            self.close()
            raise

    def _exchange(self, path: str, deadline: float) -> tuple[int, bytes]:
        sock = self._connect(deadline)
        conn = "keep-alive" if self.keep_alive else "close"
        head = (
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nUser-Agent: edge-bench-probe\r\n"
        )
        head += f"Accept: application/json\r\nConnection: {conn}\r\n\r\n"
        try:
            sock.sendall(head.encode())
        except TimeoutError as exc:
            raise ProbeFailure("timeout") from exc
        except OSError as exc:
            raise ProbeFailure(_os_kind(exc)) from exc
        status, headers = self._read_head(sock, deadline)
        body = self._read_body(sock, headers, deadline)
        if not self.keep_alive or headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def _connect(self, deadline: float) -> socket.socket:
        if self.sock is not None:
            return self.sock
        try:
            sock = socket.create_connection((HOST, self.port), timeout=_remaining(deadline))
        except TimeoutError as exc:
            raise ProbeFailure("connect timeout") from exc
        except OSError as exc:
            raise ProbeFailure(f"connect {_os_kind(exc)}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.buf = b""
        self.connects += 1
        return sock

    def _recv(self, sock: socket.socket, deadline: float, got: bool) -> bytes:
        sock.settimeout(_remaining(deadline))
        try:
            data = sock.recv(65_536)
        except TimeoutError as exc:
            raise ProbeFailure("timeout", got) from exc
        except OSError as exc:
            raise ProbeFailure(_os_kind(exc), got) from exc
        if not data:
            raise ProbeFailure("closed", got)
        return data

    def _read_head(self, sock: socket.socket, deadline: float) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65_536:
                raise ProbeFailure("bad response", True)
            self.buf += self._recv(sock, deadline, bool(self.buf))
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProbeFailure("bad response", True)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    def _read_body(self, sock: socket.socket, headers: Mapping[str, str], deadline: float) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked(sock, deadline)
        length = headers.get("content-length")
        if length is None or not length.isdigit():
            with contextlib.suppress(ProbeFailure):  # body delimited by the connection closing
                while len(self.buf) < 16 * 1024 * 1024:
                    self.buf += self._recv(sock, deadline, True)
            body, self.buf = self.buf, b""
            self.close()
            return body
        want = int(length)
        while len(self.buf) < want:
            self.buf += self._recv(sock, deadline, True)
        body, self.buf = self.buf[:want], self.buf[want:]
        return body

    def _read_chunked(self, sock: socket.socket, deadline: float) -> bytes:
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                self.buf += self._recv(sock, deadline, True)
            size_line, self.buf = self.buf.split(b"\r\n", 1)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise ProbeFailure("bad response", True) from exc
            while len(self.buf) < size + 2:
                self.buf += self._recv(sock, deadline, True)
            body += self.buf[:size]
            self.buf = self.buf[size + 2 :]
            if size == 0:
                return body  # trailers are not used by the servers here


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ProbeFailure("timeout")
    return left


def _os_kind(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "reset"
    return errno.errorcode.get(exc.errno or 0, type(exc).__name__)


# --------------------------------------------------------------------------------------------
# probes


@dataclasses.dataclass(frozen=True)
class ProbeSpec:
    """One kind of probe: a target path, on a new connection each time or on a kept one."""

    target: str
    keep_alive: bool

    @property
    def key(self) -> str:
        """Return the probe's short name, e.g. 'static/new'."""
        return f"{self.target}/{'keep-alive' if self.keep_alive else 'new'}"

    @property
    def label(self) -> str:
        """Return the probe's table label."""
        return f"{PROBE_LABELS[self.target]}, {'keep-alive' if self.keep_alive else 'new conn'}"


PROBES = tuple(ProbeSpec(t, ka) for t in PROBE_TARGETS for ka in (False, True))


@dataclasses.dataclass
class ProbeStats:
    """What one probe kind saw during a scenario."""

    spec: ProbeSpec
    attempts: int = 0
    ok: int = 0
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    failures: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    connects: int = 0

    @property
    def success_pct(self) -> float | None:
        """Return the share of attempts that got a complete 2xx answer."""
        return 100.0 * self.ok / self.attempts if self.attempts else None

    def pct(self, q: float) -> float | None:
        """Return the q-th percentile (nearest rank) of successful probes' latency in ms."""
        return percentile(self.latencies_ms, q)

    def met(self) -> bool:
        """Say whether this probe met the targets (100% success, p99 below the limit)."""
        p99 = self.pct(99)
        return (
            self.success_pct is not None
            and self.success_pct >= SUCCESS_TARGET_PCT
            and p99 is not None
            and p99 < P99_TARGET_MS
        )

    def summary(self) -> dict[str, Any]:
        """Return the JSON-ready figures."""
        return {
            "probe": self.spec.key,
            "path": PROBE_TARGETS[self.spec.target][0],
            "keep_alive": self.spec.keep_alive,
            "attempts": self.attempts,
            "ok": self.ok,
            "success_pct": self.success_pct,
            "p50_ms": self.pct(50),
            "p90_ms": self.pct(90),
            "p99_ms": self.pct(99),
            "max_ms": max(self.latencies_ms) if self.latencies_ms else None,
            "failures": dict(self.failures),
            "connections_opened": self.connects,
            "met": self.met(),
        }


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the nearest-rank percentile of values, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def probe_once(client: HttpClient, spec: ProbeSpec, stats: ProbeStats | None) -> bool:
    """Make one probe request; record it in stats (if given) and say whether it succeeded."""
    path, want = PROBE_TARGETS[spec.target]
    started = time.perf_counter()
    kind = ""
    try:
        status, body = client.get(path)
    except ProbeFailure as exc:
        kind = exc.kind
    else:
        if not 200 <= status < 300:
            kind = f"HTTP {status}"
        elif want is not None and len(body) != want:
            kind = "wrong body size"
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    if stats is not None:
        stats.attempts += 1
        if kind:
            stats.failures[kind] += 1
        else:
            stats.ok += 1
            stats.latencies_ms.append(elapsed_ms)
    return not kind


def probe_loop(
    client: HttpClient, spec: ProbeSpec, stats: ProbeStats, until: float, interval: float
) -> None:
    """Probe sequentially until the deadline, pausing interval seconds between probes."""
    connects_before = client.connects
    while time.monotonic() < until:
        probe_once(client, spec, stats)
        if not spec.keep_alive:
            client.close()
        pause = min(interval, until - time.monotonic())
        if pause > 0:
            time.sleep(pause)
    stats.connects = client.connects - connects_before


def warm_clients(servers: Servers, opts: Options) -> dict[ProbeSpec, HttpClient]:
    """Make a client per probe kind and warm it up; the keep-alive ones stay connected."""
    clients: dict[ProbeSpec, HttpClient] = {}
    for spec in PROBES:
        client = HttpClient(servers.bff_port, spec.keep_alive, opts.probe_timeout)
        clients[spec] = client
        for _ in range(WARMUP_PROBES):
            probe_once(client, spec, None)
            if not spec.keep_alive:
                client.close()
        if not probe_once(client, spec, None):
            raise BenchError(f"probe {spec.key} fails before any attack; see the server logs")
    return clients


def run_probes(
    clients: Mapping[ProbeSpec, HttpClient], duration: float, interval: float, timeout: float
) -> list[ProbeStats]:
    """Run every probe kind in its own thread, each sequential, for duration seconds."""
    until = time.monotonic() + duration
    stats = [ProbeStats(spec) for spec in clients]
    threads = [
        threading.Thread(
            target=probe_loop,
            args=(clients[s.spec], s.spec, s, until, interval),
            name=f"probe {s.spec.key}",
            daemon=True,
        )
        for s in stats
    ]
    for t in threads:
        t.start()
    join_deadline = until + 2 * timeout + 5.0
    for t in threads:
        t.join(max(0.0, join_deadline - time.monotonic()))
        if t.is_alive():
            raise BenchError(f"{t.name} did not finish in time")
    return stats


def measure_recovery(port: int, spec: ProbeSpec) -> float | None:
    """Return seconds until a new-connection probe succeeds again, or None if not in time."""
    started = time.monotonic()
    while time.monotonic() - started < RECOVERY_TIMEOUT_S:
        client = HttpClient(port, keep_alive=False, timeout=RECOVERY_PROBE_TIMEOUT_S)
        try:
            if probe_once(client, spec, None):
                return time.monotonic() - started
        finally:
            client.close()
        time.sleep(0.1)
    return None


# --------------------------------------------------------------------------------------------
# /proc/net/tcp


@dataclasses.dataclass(frozen=True)
class TcpEntry:
    """One IPv4 TCP socket from /proc/net/tcp."""

    local_port: int
    remote_port: int
    state: int
    rx_queue: int
    inode: int


def tcp_table() -> list[TcpEntry] | None:
    """Return the loopback IPv4 TCP sockets of this network namespace, or None if unreadable."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    entries: list[TcpEntry] = []
    for line in lines:
        parts = line.split()
        if len(parts) < 10:
            continue
        local_ip, local_port = parts[1].split(":")
        _remote_ip, remote_port = parts[2].split(":")
        if local_ip != "0100007F":  # 127.0.0.1, little-endian
            continue
        entries.append(
            TcpEntry(
                local_port=int(local_port, 16),
                remote_port=int(remote_port, 16),
                state=int(parts[3], 16),
                rx_queue=int(parts[4].split(":")[1], 16),
                inode=int(parts[9]),
            )
        )
    return entries


def server_socket_counts(port: int) -> dict[str, int] | None:
    """Count the server's established connections on port: accepted, or still in the backlog."""
    table = tcp_table()
    if table is None:
        return None
    accepted = backlog = 0
    for e in table:
        if e.local_port == port and e.remote_port != 0 and e.state == TCP_ESTABLISHED:
            if e.inode:
                accepted += 1
            else:
                backlog += 1
    return {"accepted": accepted, "in_listen_backlog": backlog}


# --------------------------------------------------------------------------------------------
# the attacker (a child process running attack_child)


@dataclasses.dataclass(frozen=True)
class AttackConfig:
    """What the attacker child does."""

    port: int
    count: int
    mode: str
    interval_s: float
    connect_timeout_s: float
    ramp_timeout_s: float
    max_runtime_s: float


@dataclasses.dataclass(eq=False)
class AttackConn:
    """One attacker connection."""

    sock: socket.socket | None
    started: float
    connected: float | None = None
    sent: int = 0
    closed_at: float | None = None
    answer: str = ""


def attack_payloads(cfg: AttackConfig) -> tuple[bytes, bytes]:
    """Return (bytes sent on connect, bytes dripped one per interval) for the attack mode."""
    host = f"Host: {HOST}:{cfg.port}\r\nUser-Agent: edge-bench-attacker\r\n"
    if cfg.mode == "slowloris":
        head = f"GET /healthz HTTP/1.1\r\n{host}X-Padding: ".encode()
        return b"", head + b"a" * SLOW_HEADER_BYTES
    if cfg.mode == "partial-body":
        head = (
            f"POST /api/static/sink HTTP/1.1\r\n{host}Content-Type: application/octet-stream\r\n"
            f"Content-Length: {PARTIAL_BODY_BYTES}\r\n\r\n"
        ).encode()
        return head, b"a" * (PARTIAL_BODY_BYTES - 1)  # never the last byte
    if cfg.mode == "idle":
        return b"", b""
    raise ValueError(f"unknown attack mode {cfg.mode!r}")


class Attack:
    """Opens the attacker connections and drips bytes on them, on one selector (epoll)."""

    def __init__(self, cfg: AttackConfig) -> None:
        """Prepare the selector; nothing is opened yet."""
        self.cfg = cfg
        self.sel = selectors.DefaultSelector()
        self.conns: list[AttackConn] = []
        self.pending: collections.deque[AttackConn] = collections.deque()
        self.drips: list[tuple[float, int, AttackConn]] = []
        self.seq = 0
        self.failures: collections.Counter[str] = collections.Counter()
        self.started = time.monotonic()
        self.ready_at: float | None = None
        self.exhausted = False
        self.stop = False
        self.prefix, self.drip = attack_payloads(cfg)

    def run(self) -> None:
        """Ramp up, report 'ready', drip until told to stop (stdin) or out of time, report."""
        self.sel.register(sys.stdin.fileno(), selectors.EVENT_READ, None)
        deadline = self.started + self.cfg.max_runtime_s
        while not self.stop:
            now = time.monotonic()
            if now >= deadline:
                break
            self.open_more(now)
            self.expire_pending(now)
            if self.ready_at is None and self.ramp_done(now):
                self.ready_at = now
                emit({"event": "ready", **self.counts()})
            self.drip_due(now)
            for key, mask in self.sel.select(self.next_timeout(now)):
                self.on_event(key.data, mask)
        emit({"event": "result", **self.result()})
        self.close_all()

    def ramping(self, now: float) -> bool:
        """Say whether more connections should still be started."""
        return (
            len(self.conns) < self.cfg.count
            and not self.exhausted
            and now - self.started < self.cfg.ramp_timeout_s
        )

    def ramp_done(self, now: float) -> bool:
        """Say whether every connection has been opened or given up on."""
        return not self.ramping(now) and not self.pending

    def open_more(self, now: float) -> None:
        """Start non-blocking connects, at most MAX_PENDING_CONNECTS in flight."""
        while self.ramping(now) and len(self.pending) < MAX_PENDING_CONNECTS:
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            except OSError as exc:
                self.failures[f"socket(): {exc.strerror}"] += 1
                self.exhausted = True
                return
            sock.setblocking(False)
            conn = AttackConn(sock, started=now)
            self.conns.append(conn)
            err = sock.connect_ex((HOST, self.cfg.port))
            if err not in (0, errno.EINPROGRESS):
                self.failures[f"connect: {os.strerror(err)}"] += 1
                self.discard(conn)
                if err in (errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL):
                    self.exhausted = True
                continue
            self.sel.register(sock, selectors.EVENT_WRITE, conn)
            self.pending.append(conn)

    def expire_pending(self, now: float) -> None:
        """Give up on connects that took longer than the connect timeout."""
        while self.pending and (
            self.pending[0].sock is None or self.pending[0].connected is not None
        ):
            self.pending.popleft()
        for conn in list(self.pending):
            if conn.connected is None and now - conn.started > self.cfg.connect_timeout_s:
                self.failures["connect timeout"] += 1
                self.discard(conn)
        self.pending = collections.deque(
            c for c in self.pending if c.sock is not None and c.connected is None
        )

    def discard(self, conn: AttackConn) -> None:
        """Close a connection that never opened."""
        if conn.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(conn.sock)
            conn.sock.close()
            conn.sock = None

    def next_timeout(self, now: float) -> float:
        """Return how long the selector may wait."""
        timeout = 0.5
        if self.pending or self.ramping(now):
            timeout = 0.02
        if self.drips:
            timeout = min(timeout, self.drips[0][0] - now)
        return max(0.0, timeout)

    def on_event(self, conn: AttackConn | None, mask: int) -> None:
        """Handle stdin (stop), a finished connect, or data/close from the server."""
        if conn is None:
            data = os.read(sys.stdin.fileno(), 4096)
            if not data or b"stop" in data:
                self.stop = True
            return
        sock = conn.sock
        if sock is None:
            return
        now = time.monotonic()
        if conn.connected is None:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.failures[f"connect: {os.strerror(err)}"] += 1
                self.discard(conn)
                return
            conn.connected = now
            self.sel.modify(sock, selectors.EVENT_READ, conn)
            if self.prefix and not self.send(conn, self.prefix):
                return
            if self.drip:
                self.send_drip(conn, now)
            return
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            self.server_closed(conn, now)
            return
        if not data:
            self.server_closed(conn, now)
        elif not conn.answer:
            conn.answer = data.split(b"\r\n", 1)[0].decode("latin-1")[:80]

    def send(self, conn: AttackConn, data: bytes) -> bool:
        """Send bytes without blocking; False (and the connection closed) if the server cut it."""
        if conn.sock is None:
            return False
        try:
            conn.sock.send(data)
        except BlockingIOError:
            return True
        except OSError:
            self.server_closed(conn, time.monotonic())
            return False
        return True

    def send_drip(self, conn: AttackConn, now: float) -> None:
        """Send the next dripped byte and schedule the one after."""
        if conn.sock is None or conn.sent >= len(self.drip):
            return
        if self.send(conn, self.drip[conn.sent : conn.sent + 1]):
            conn.sent += 1
            self.seq += 1
            heapq.heappush(self.drips, (now + self.cfg.interval_s, self.seq, conn))

    def drip_due(self, now: float) -> None:
        """Send one byte on every connection whose turn has come."""
        while self.drips and self.drips[0][0] <= now:
            _due, _seq, conn = heapq.heappop(self.drips)
            self.send_drip(conn, now)

    def server_closed(self, conn: AttackConn, now: float) -> None:
        """Record that the server closed (or reset) a connection."""
        if conn.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(conn.sock)
            conn.sock.close()
            conn.sock = None
        conn.closed_at = now

    def counts(self) -> dict[str, Any]:
        """Return how many connections opened and why the others did not."""
        opened = sum(1 for c in self.conns if c.connected is not None)
        return {
            "requested": self.cfg.count,
            "opened": opened,
            "failed": self.cfg.count - opened,
            "failure_reasons": dict(self.failures),
            "ramp_s": (self.ready_at or time.monotonic()) - self.started,
        }

    def result(self) -> dict[str, Any]:
        """Return the attack's outcome: opens, server closes and their timing."""
        closed = [c for c in self.conns if c.closed_at is not None and c.connected is not None]
        ready = self.ready_at or self.started
        answers = collections.Counter(c.answer for c in self.conns if c.answer)
        return {
            **self.counts(),
            "closed_by_server": len(closed),
            "close_after_connect_s": sorted(
                round(c.closed_at - c.connected, 3)
                for c in closed
                if c.closed_at is not None and c.connected is not None
            ),
            "closed_before_ready": sum(1 for c in closed if (c.closed_at or 0) < ready),
            "still_open": sum(1 for c in self.conns if c.sock is not None and c.connected),
            "server_answers": dict(answers),
            "bytes_dripped": sum(c.sent for c in self.conns),
            "attack_s": time.monotonic() - ready,
        }

    def close_all(self) -> None:
        """Reset every connection (no TIME_WAIT left behind)."""
        linger = struct.pack("ii", 1, 0)
        for conn in self.conns:
            if conn.sock is not None:
                with contextlib.suppress(OSError):
                    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                conn.sock.close()
                conn.sock = None
        self.sel.close()


def emit(event: Mapping[str, Any]) -> None:
    """Write one JSON line to stdout for the parent."""
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def attack_child(config_json: str) -> int:
    """Entry point of the attacker child process."""
    signal.signal(signal.SIGTERM, on_sigterm)
    cfg = AttackConfig(**json.loads(config_json))
    Attack(cfg).run()
    return 0


class Attacker:
    """The parent's handle on the attacker child: start it, wait for it, stop it."""

    def __init__(self, procs: Processes, cfg: AttackConfig) -> None:
        """Start the child process."""
        self.procs = procs
        argv = [sys.executable, str(Path(__file__).resolve()), "--attack-child"]
        argv.append(json.dumps(dataclasses.asdict(cfg)))
        self.proc = procs.start("attacker", argv, cwd=HERE, env=base_env(), pipes=True)
        self.buf = b""

    def event(self, want: str, timeout: float) -> dict[str, Any]:
        """Wait (bounded) for the next JSON event line and check its kind."""
        stdout = self.proc.stdout
        if stdout is None:
            raise BenchError("attacker has no stdout pipe")
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"attacker sent no {want!r} in {timeout:.0f} s")
            ready, _, _ = select.select([stdout], [], [], left)
            if ready:
                chunk = os.read(stdout.fileno(), 1 << 20)
                if not chunk:
                    raise BenchError(f"attacker exited:\n{self.procs.log_tail('attacker')}")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        data = json.loads(line)
        if not isinstance(data, dict) or data.get("event") != want:
            raise BenchError(f"attacker sent {line[:200]!r}, expected {want!r}")
        return data

    def stop(self) -> dict[str, Any]:
        """Tell the child to stop, collect its result, and wait for it to exit."""
        stdin: IO[bytes] | None = self.proc.stdin
        if stdin is not None:
            with contextlib.suppress(OSError):
                stdin.write(b"stop\n")
                stdin.flush()
        result = self.event("result", ATTACKER_REPORT_TIMEOUT_S)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stop_group(self.proc)
        return result


# --------------------------------------------------------------------------------------------
# stalled readers


class StalledReaders:
    """Clients that request a big body through the BFF and then never read."""

    def __init__(self, port: int, count: int, max_s: float) -> None:
        """Remember where to connect and for how long to watch at most; nothing opens yet."""
        self.port = port
        self.count = count
        self.max_s = max_s
        self.socks: list[tuple[socket.socket, int, float]] = []  # socket, local port, sent at
        self.closed_at: dict[int, float] = {}
        self.failures: collections.Counter[str] = collections.Counter()
        self.stop_event = threading.Event()
        self.monitor: threading.Thread | None = None
        self.monitor_ok = True

    def start(self) -> None:
        """Open the clients, send the requests, and start watching the server side."""
        head = (
            f"GET /api/limited/big HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            "User-Agent: edge-bench-stalled\r\nAccept: application/json\r\n\r\n"
        ).encode()
        for _ in range(self.count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RCVBUF)
            sock.settimeout(CONNECT_TIMEOUT_S)
            try:
                sock.connect((HOST, self.port))
                sock.sendall(head)
            except OSError as exc:
                self.failures[type(exc).__name__] += 1
                sock.close()
                continue
            self.socks.append((sock, int(sock.getsockname()[1]), time.monotonic()))
        self.monitor = threading.Thread(target=self.watch, name="stalled monitor", daemon=True)
        self.monitor.start()

    def watch(self) -> None:
        """Every MONITOR_INTERVAL_S, note which server-side sockets left ESTABLISHED."""
        deadline = time.monotonic() + self.max_s
        while not self.stop_event.wait(MONITOR_INTERVAL_S) and time.monotonic() < deadline:
            self.check()

    def check(self) -> None:
        """Look the stalled connections up in /proc/net/tcp once."""
        table = tcp_table()
        if table is None:
            self.monitor_ok = False
            return
        now = time.monotonic()
        server_side = {
            e.remote_port: e.state
            for e in table
            if e.local_port == self.port and e.state in (TCP_ESTABLISHED, TCP_CLOSE_WAIT)
        }
        for _sock, port, _sent in self.socks:
            if port not in self.closed_at and port not in server_side:
                self.closed_at[port] = now

    def stop(self) -> dict[str, Any]:
        """Stop watching, peek at what arrived, reset every client and return the figures."""
        self.stop_event.set()
        if self.monitor is not None:
            self.monitor.join(MONITOR_INTERVAL_S * 4 + 5.0)
        self.check()
        now = time.monotonic()
        statuses: collections.Counter[str] = collections.Counter()
        queued = {e.local_port: e.rx_queue for e in (tcp_table() or [])}
        open_s: list[float] = []
        closed_s: list[float] = []
        for sock, port, sent in self.socks:
            try:
                first = sock.recv(64, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except OSError:
                first = b""
            statuses[first.split(b"\r\n", 1)[0].decode("latin-1") or "(nothing)"] += 1
            if port in self.closed_at:
                closed_s.append(round(self.closed_at[port] - sent, 3))
            else:
                open_s.append(round(now - sent, 3))
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        return {
            "requested": self.count,
            "opened": len(self.socks),
            "failed": self.count - len(self.socks),
            "failure_reasons": dict(self.failures),
            "closed_by_server": len(closed_s),
            "close_after_connect_s": sorted(closed_s),
            "still_open": len(open_s),
            "open_for_s": sorted(open_s),
            "first_line_received": dict(statuses),
            "bytes_queued_at_clients": sum(queued.get(p, 0) for _s, p, _t in self.socks),
            "server_state_monitored": self.monitor_ok,
        }


# --------------------------------------------------------------------------------------------
# scenarios


@dataclasses.dataclass
class ScenarioResult:
    """One scenario's probes and what its attack saw."""

    name: str
    duration_s: float
    probes: list[ProbeStats]
    attack: dict[str, Any] | None = None
    server_sockets: dict[str, int] | None = None
    other_cpu_pct: float | None = None
    recovery_s: float | None = None
    recovery_probe: str = ""


def raise_nofile_limit() -> int:
    """Raise this process's open-file soft limit to the hard limit; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if want > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def run_scenario(name: str, opts: Options, root: Path, tmp: Path) -> ScenarioResult:
    """Start fresh servers, run one scenario's attack (if any) with the probes, stop it all."""
    workdir = tmp / name
    workdir.mkdir()
    procs = Processes(workdir)
    try:
        servers = start_servers(procs, opts, root, workdir)
        clients = warm_clients(servers, opts)
        try:
            return attack_and_probe(name, opts, procs, servers, clients)
        finally:
            for client in clients.values():
                client.close()
    finally:
        procs.close()


def attack_and_probe(
    name: str,
    opts: Options,
    procs: Processes,
    servers: Servers,
    clients: Mapping[ProbeSpec, HttpClient],
) -> ScenarioResult:
    """Start the scenario's attack, probe for the duration, stop the attack, measure recovery."""
    attacker: Attacker | None = None
    stalled: StalledReaders | None = None
    stop_attack: Callable[[], dict[str, Any]] | None = None
    recovery = ProbeSpec("static", keep_alive=False)
    if name in ATTACKS:
        cfg = AttackConfig(
            port=servers.bff_port,
            count=opts.connections,
            mode=name,
            interval_s=DRIP_INTERVAL_S,
            connect_timeout_s=CONNECT_TIMEOUT_S,
            ramp_timeout_s=RAMP_TIMEOUT_S,
            max_runtime_s=RAMP_TIMEOUT_S + CONNECT_TIMEOUT_S + opts.duration + 120.0,
        )
        attacker = Attacker(procs, cfg)
        ready = attacker.event("ready", RAMP_TIMEOUT_S + CONNECT_TIMEOUT_S + 15.0)
        log(
            f"  {name}: {ready['opened']}/{ready['requested']} connections open "
            f"in {ready['ramp_s']:.1f} s"
        )
        if ready["failed"]:
            log(f"  WARNING: could not open {ready['failed']}: {ready['failure_reasons']}")
        stop_attack = attacker.stop
        time.sleep(ATTACK_SETTLE_S)
    elif name == "stalled-readers":
        recovery = ProbeSpec("limited", keep_alive=False)
        stalled = StalledReaders(
            servers.bff_port, opts.stalled_clients, STALLED_SETTLE_S + opts.duration + 60.0
        )
        stalled.start()
        time.sleep(STALLED_SETTLE_S)
        stop_attack = stalled.stop
    pgids = procs.pgids()
    cpu0 = cpu_sample(pgids)
    probes = run_probes(clients, opts.duration, opts.probe_interval, opts.probe_timeout)
    other = other_cpu_pct(cpu0, cpu_sample(pgids))
    result = ScenarioResult(name, opts.duration, probes, other_cpu_pct=other)
    if stop_attack is not None:
        result.server_sockets = server_socket_counts(servers.bff_port)
        result.attack = stop_attack()
        result.recovery_probe = recovery.key
        result.recovery_s = measure_recovery(servers.bff_port, recovery)
    return result


# --------------------------------------------------------------------------------------------
# report


def fmt(value: float | None, spec: str, suffix: str = "") -> str:
    """Format an optional number, or 'n/a'."""
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def ratio(value: float | None, base: float | None) -> float | None:
    """Return value / base, or None when either is missing or base is 0."""
    if value is None or base is None or base <= 0:
        return None
    return value / base


def ratio_text(value: float | None, base: float | None, scenario: str) -> str:
    """Render a ratio against the baseline: '-' on baseline rows, 'n/a' without figures."""
    if scenario == "baseline":
        return "-"
    return fmt(ratio(value, base), ".1f", "x")


def baseline_for(baseline: ScenarioResult | None, spec: ProbeSpec) -> ProbeStats | None:
    """Return the baseline figures of a probe kind."""
    if baseline is None:
        return None
    return next((p for p in baseline.probes if p.spec == spec), None)


def failure_text(stats: ProbeStats) -> str:
    """Render the failure kinds of a probe, most common first."""
    return ", ".join(f"{kind} x{n}" for kind, n in stats.failures.most_common()) or "-"


def print_scenario(res: ScenarioResult, baseline: ScenarioResult | None, opts: Options) -> None:
    """Print one scenario's probe table and attack figures."""
    size = ""
    if res.name in ATTACKS:
        size = f", {opts.connections} connections"
    elif res.name == "stalled-readers":
        size = f", {opts.stalled_clients} clients"
    print(f"\n{TITLES[res.name]}{size}, {res.duration_s:g} s")
    print(
        f"  {'probe':<36}{'attempts':>9}{'ok %':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'x p50':>8}{'x p99':>8}  failures"
    )
    for p in res.probes:
        base = baseline_for(baseline, p.spec) if res.name != "baseline" else None
        x50 = ratio_text(p.pct(50), base.pct(50) if base else None, res.name)
        x99 = ratio_text(p.pct(99), base.pct(99) if base else None, res.name)
        print(
            f"  {p.spec.label:<36}{p.attempts:>9}{fmt(p.success_pct, '.1f'):>8}"
            f"{fmt(p.pct(50), '.2f'):>9}{fmt(p.pct(99), '.2f'):>9}"
            f"{x50:>8}{x99:>8}  {failure_text(p)}"
        )
    print(f"  other cpu during the probes: {fmt(res.other_cpu_pct, '.0f', '%')}")
    if res.attack is not None:
        print_attack(res)


def print_attack(res: ScenarioResult) -> None:
    """Print what happened to the attack's connections."""
    a = res.attack or {}
    closes = a.get("close_after_connect_s") or []
    who = "attacker connections" if res.name in ATTACKS else "stalled readers"
    print(
        f"  {who}: opened {a.get('opened')}/{a.get('requested')}"
        + (
            f" (FAILED to open {a['failed']}: {a.get('failure_reasons')})"
            if a.get("failed")
            else ""
        )
    )
    if closes:
        median = statistics.median(closes)
        print(
            f"  closed by the server: {len(closes)}, {median:.1f} s after connect (median;"
            f" first {min(closes):.1f} s, last {max(closes):.1f} s)"
        )
    else:
        print("  closed by the server: 0")
    print(f"  still open at the end: {a.get('still_open')}")
    if res.name in ATTACKS:
        answers = a.get("server_answers") or {}
        if answers:
            print(f"  server answers seen: {answers}")
    else:
        open_for = a.get("open_for_s") or []
        if open_for:
            print(f"  stalled connections open for {max(open_for):.1f} s at the end")
        print(f"  first response line at the clients: {a.get('first_line_received')}")
        if not a.get("server_state_monitored", True):
            print("  (server-side states unavailable: /proc/net/tcp unreadable)")
    sockets = res.server_sockets
    if sockets is not None:
        print(
            f"  BFF port sockets before the attack stopped: {sockets['accepted']} accepted, "
            f"{sockets['in_listen_backlog']} waiting in the listen backlog"
        )
    rec = fmt(res.recovery_s, ".2f", " s")
    if res.recovery_s is None:
        rec = f"NOT within {RECOVERY_TIMEOUT_S:.0f} s"
    print(f"  after the attack: first {res.recovery_probe} 2xx in {rec}")


def summary_rows(
    results: Sequence[ScenarioResult], baseline: ScenarioResult | None
) -> list[dict[str, Any]]:
    """Return one row per scenario and probe: success, p99, ratios, and the target verdict."""
    rows: list[dict[str, Any]] = []
    for res in results:
        for p in res.probes:
            base = baseline_for(baseline, p.spec) if res.name != "baseline" else None
            rows.append(
                {
                    "scenario": res.name,
                    "probe": p.spec.key,
                    "label": p.spec.label,
                    "success_pct": p.success_pct,
                    "p50_ms": p.pct(50),
                    "p99_ms": p.pct(99),
                    "base_p50_ms": base.pct(50) if base else None,
                    "base_p99_ms": base.pct(99) if base else None,
                    "x_baseline_p50": ratio(p.pct(50), base.pct(50) if base else None),
                    "x_baseline_p99": ratio(p.pct(99), base.pct(99) if base else None),
                    "met": p.met(),
                }
            )
    return rows


def print_summary(rows: Sequence[Mapping[str, Any]], quick: bool) -> None:
    """Print the summary table with the targets."""
    print(
        f"\nSummary; target per probe: {SUCCESS_TARGET_PCT:.0f}% success "
        f"and p99 < {P99_TARGET_MS:.0f} ms"
    )
    print(
        f"{'scenario':<17}{'probe':<36}{'ok %':>7}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'x p50':>8}{'x p99':>8}  target"
    )
    for r in rows:
        print(
            f"{r['scenario']:<17}{r['label']:<36}{fmt(r['success_pct'], '.1f'):>7}"
            f"{fmt(r['p50_ms'], '.2f'):>9}{fmt(r['p99_ms'], '.2f'):>9}"
            f"{ratio_text(r['p50_ms'], r['base_p50_ms'], r['scenario']):>8}"
            f"{ratio_text(r['p99_ms'], r['base_p99_ms'], r['scenario']):>8}"
            f"  {verdict_text(r['met'], quick, 'MISSED')}"
        )
    missed = [r for r in rows if not r["met"]]
    if quick:
        print(f"targets {NOT_CHECKED}")
    elif missed:
        scenarios = sorted({r["scenario"] for r in missed}, key=[*SCENARIOS, "baseline"].index)
        print(f"MISSED: {len(missed)} of {len(rows)} probe rows (in {', '.join(scenarios)})")
    else:
        print(f"all {len(rows)} probe rows met the targets")


def machine_info(opts: Options, root: Path, nofile: int) -> dict[str, Any]:
    """Collect the machine and versions the figures depend on."""
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "gunicorn": package_version("gunicorn"),
        "gevent": package_version("gevent"),
        "flask": package_version("flask"),
        "repo_commit": repo_commit(REPO),
        "bff_code": opts.bff_ref or str(root),
        "bff_sources_sha256": bff_digest(root),
        "nofile_limit": nofile,
    }


def results_json(
    opts: Options,
    results: Sequence[ScenarioResult],
    rows: Sequence[Mapping[str, Any]],
    machine: Mapping[str, Any],
    busy: tuple[float | None, float | None],
) -> dict[str, Any]:
    """Return everything measured as a JSON-ready dict."""
    return {
        "config": {
            "duration_s": opts.duration,
            "connections": opts.connections,
            "scenarios": list(opts.scenarios),
            "quick": opts.quick,
            "bff_env": opts.bff_env,
            "bff_ref": opts.bff_ref,
            "probe_timeout_s": opts.probe_timeout,
            "probe_interval_s": opts.probe_interval,
            "stalled_clients": opts.stalled_clients,
            "targets": {"success_pct": SUCCESS_TARGET_PCT, "p99_ms_below": P99_TARGET_MS},
        },
        "machine": dict(machine),
        "background_cpu_busy_pct": {"before": busy[0], "after": busy[1]},
        "scenarios": [
            {
                "name": r.name,
                "duration_s": r.duration_s,
                "probes": [p.summary() for p in r.probes],
                "attack": r.attack,
                "bff_port_sockets": r.server_sockets,
                "other_cpu_pct": r.other_cpu_pct,
                "recovery_probe": r.recovery_probe or None,
                "recovery_s": r.recovery_s,
            }
            for r in results
        ],
        "summary": list(rows),
    }


def benchmark(opts: Options) -> int:
    """Run the baseline and the chosen scenarios, print the figures, stop everything."""
    nofile = raise_nofile_limit()
    if opts.connections + 256 > nofile:
        log(f"WARNING: open-file limit {nofile} is below {opts.connections} connections + spare")
    env_text = " ".join(f"{k}={v}" for k, v in opts.bff_env.items()) or "BFF defaults"
    log(
        f"edge benchmark: {opts.duration:g} s per scenario, {opts.connections} attacker "
        f"connections, probe timeout {opts.probe_timeout:g} s; BFF env: {env_text}"
    )
    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="bench-edge-"))
        if not opts.keep_tmp:
            stack.callback(shutil.rmtree, tmp, True)
        root = opts.bff_dir or REPO
        if opts.bff_ref is not None:
            root = export_tree(REPO, opts.bff_ref, tmp / "tree")
        code = opts.bff_ref or ("this checkout" if root == REPO else str(root))
        busy_before = busy_pct()
        warn_if_busy(busy_before, "before the run")
        results: list[ScenarioResult] = []
        for name in ("baseline", *opts.scenarios):
            log(f"{name}: starting servers")
            res = run_scenario(name, opts, root, tmp)
            results.append(res)
            ok = ", ".join(f"{p.spec.key} {fmt(p.success_pct, '.0f', '%')}" for p in res.probes)
            log(f"{name}: {ok}")
        busy_after = busy_pct()
        warn_if_busy(busy_after, "after the run")
        baseline = results[0]
        print(f"\nBFF ({code}) under attack, {HOST} only; BFF env: {env_text}")
        for res in results:
            print_scenario(res, baseline, opts)
        rows = summary_rows(results, baseline)
        print_summary(rows, opts.quick)
        print(
            f"\nBackground CPU busy (servers idle): before {fmt(busy_before, '.0f', '%')}, "
            f"after {fmt(busy_after, '.0f', '%')}"
        )
        if opts.json_path is not None:
            data = results_json(
                opts, results, rows, machine_info(opts, root, nofile), (busy_before, busy_after)
            )
            opts.json_path.parent.mkdir(parents=True, exist_ok=True)
            opts.json_path.write_text(json.dumps(data, indent=2) + "\n")
            log(f"wrote {opts.json_path}")
        if opts.keep_tmp:
            log(f"kept {tmp}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "--attack-child":
        return attack_child(args[1])
    opts = parse_args(args)
    return run_benchmark(lambda: benchmark(opts))


if __name__ == "__main__":
    sys.exit(main())
