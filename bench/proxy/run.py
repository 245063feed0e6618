#!/usr/bin/env python3
"""Reverse-proxy benchmark: static nginx vs nginx proxy vs Next.js rewrites vs the BFF."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for harness.py
from harness import (  # noqa: E402
    BenchError,
    Processes,
    bff_digest,
    busy_pct,
    cpu_model,
    cpu_sample,
    export_tree,
    free_port,
    log,
    other_cpu_pct,
    package_version,
    positive_int,
    repo_commit,
    run_benchmark,
    verdict_text,
    wait_until_ready,
    warn_if_busy,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NEXT_DIR = HERE / "next-rewrites"
NEXT_BIN = NEXT_DIR / "node_modules" / "next" / "dist" / "bin" / "next"
NEXT_STAMP = NEXT_DIR / ".next" / "bench-build.json"
NEXT_SOURCES = ("package.json", "package-lock.json", "next.config.mjs")
BFF_CONF = REPO / "bff" / "gunicorn.conf.py"
NGINX = "nginx"
WRK = "wrk"
DEFAULT_STATIC_PORT = 18181
BUILD_TIMEOUT_S = 900.0
# CPU that wrk is pinned to by default ('none': not pinned); bench/README.md says why.
DEFAULT_WRK_CPU = "none"

TARGETS = ("direct", "nginx", "next", "bff", "base")
LABELS = {
    "direct": "static direct",
    "nginx": "nginx proxy",
    "next": "Next.js rewrites",
    "bff": "BFF",
    "base": "BFF (baseline)",
}
# Product targets (docs/proxy.md): BFF rps against each reference, per size.
RPS_TARGETS = {("next", "1k"): 2.0, ("next", "100k"): 1.5, ("nginx", "1k"): 0.15}
P99_MAX_VS_NEXT = {"1k": 1.5}  # BFF p99 at 10 connections, as a multiple of Next.js's
ADDED_P50_TARGET_MS = 0.35
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}

RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
PCT_RE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
REQS_RE = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
NON2XX_RE = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
SOCKERR_RE = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")

ROUTES_TOML = """\
[upstreams.static]
health_path = "/healthz"

[[routes]]
name = "static"
prefix = "/api/static"
upstream = "static"
upstream_prefix = "/static"
methods = ["GET", "HEAD"]
"""


@dataclasses.dataclass(frozen=True)
class Size:
    """A response body size, e.g. label '1k' for 1024 bytes."""

    label: str
    nbytes: int


@dataclasses.dataclass(frozen=True)
class Target:
    """A server under test and the path prefix its static files live under."""

    key: str
    base_url: str
    prefix: str

    def url(self, size: Size) -> str:
        """Return the URL of the JSON file of the given size on this target."""
        return f"{self.base_url}{self.prefix}/{size.label}.json"


@dataclasses.dataclass(frozen=True)
class WrkStats:
    """The figures parsed from one wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One wrk run against one target and size."""

    target: str
    size: str
    connections: int
    duration_s: int
    stats: WrkStats
    other_cpu_pct: float | None = None
    runs: int = 1


@dataclasses.dataclass(frozen=True)
class Options:
    """Parsed command-line options."""

    duration: int
    connections: int
    sizes: tuple[Size, ...]
    targets: tuple[str, ...]
    json_path: Path | None
    quick: bool
    warmup: int
    repeat: int
    wrk_cpu: str
    keep_tmp: bool
    baseline: str | None = None


@dataclasses.dataclass
class RunEnv:
    """What a run found around it: skipped targets and how busy the machine was without it."""

    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    busy_before_pct: float | None = None
    busy_after_pct: float | None = None


def parse_size(text: str) -> Size:
    """Parse '1k', '100k' or '1m' into a Size (k = 1024 bytes)."""
    m = re.fullmatch(r"(\d+)([km]?)", text.strip().lower())
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r}; use e.g. 1k,100k")
    factor = {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2)]
    nbytes = int(m.group(1)) * factor
    if nbytes < 64:
        raise argparse.ArgumentTypeError(f"size {text!r} is below the 64-byte minimum")
    return Size(label=f"{m.group(1)}{m.group(2)}", nbytes=nbytes)


def parse_sizes(text: str) -> tuple[Size, ...]:
    """Parse a comma-separated size list."""
    sizes = tuple(parse_size(part) for part in text.split(",") if part.strip())
    if not sizes:
        raise argparse.ArgumentTypeError("no sizes given")
    return sizes


def parse_targets(text: str) -> tuple[str, ...]:
    """Parse a comma-separated list of target keys."""
    keys = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [k for k in keys if k not in TARGETS]
    if bad or not keys:
        raise argparse.ArgumentTypeError(f"bad targets {bad}; choose from {','.join(TARGETS)}")
    return tuple(k for k in TARGETS if k in keys)


def parse_cpu(text: str) -> str:
    """Parse the --wrk-cpu value: 'none' or one CPU this process may run on."""
    if text == "none":
        return text
    if not text.isdigit() or int(text) not in os.sched_getaffinity(0):
        raise argparse.ArgumentTypeError(f"not a usable CPU: {text!r}")
    return text


def parse_args(argv: Sequence[str]) -> Options:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--duration", type=positive_int, default=10, help="seconds per wrk run")
    p.add_argument("--connections", type=positive_int, default=10, help="wrk connections")
    p.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1k,100k"))
    p.add_argument("--targets", type=parse_targets, default=TARGETS, help=",".join(TARGETS))
    p.add_argument("--json", type=Path, default=None, help="write full results to this file")
    p.add_argument("--quick", action="store_true", help="smoke mode: 1 s warm-up, strict errors")
    p.add_argument("--warmup", type=positive_int, default=2, help="warm-up seconds per run")
    p.add_argument("--repeat", type=positive_int, default=1, help="rounds; tables show medians")
    p.add_argument(
        "--wrk-cpu", type=parse_cpu, default=DEFAULT_WRK_CPU, help="CPU to pin wrk to, or 'none'"
    )
    p.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs, configs)")
    p.add_argument(
        "--baseline",
        metavar="GIT_REF",
        default=None,
        help="also run the BFF as of this commit (before/after ratios from the same run)",
    )
    ns = p.parse_args(argv)
    targets = ns.targets
    if ns.baseline and "base" not in targets:
        targets = (*targets, "base")
    if not ns.baseline:
        targets = tuple(t for t in targets if t != "base")
    return Options(
        duration=ns.duration,
        connections=ns.connections,
        sizes=ns.sizes,
        targets=targets,
        json_path=ns.json,
        quick=ns.quick,
        warmup=1 if ns.quick else ns.warmup,
        repeat=ns.repeat,
        wrk_cpu=ns.wrk_cpu,
        keep_tmp=ns.keep_tmp,
        baseline=ns.baseline,
    )


def compact(value: Any) -> str:
    """Serialise to compact ASCII JSON."""
    return json.dumps(value, separators=(",", ":"))


def json_body(nbytes: int) -> bytes:
    """Return a deterministic valid JSON document of exactly nbytes bytes."""
    items: list[dict[str, Any]] = []
    used = len(compact({"size": nbytes, "items": items, "pad": ""}))
    while True:
        i = len(items)
        item = {"id": i, "name": f"item-{i:06d}", "price": round(i * 1.25, 2), "ok": i % 2 == 0}
        extra = len(compact(item)) + (1 if items else 0)
        if used + extra > nbytes:
            break
        items.append(item)
        used += extra
    body = compact({"size": nbytes, "items": items, "pad": "x" * (nbytes - used)}).encode()
    if len(body) != nbytes:
        raise BenchError(f"cannot build a JSON body of {nbytes} bytes")
    return body


def port_is_free(port: int) -> bool:
    """Say whether a loopback TCP port can be listened on (as nginx would, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET a loopback URL and return (status, body); errors with a status are returned too."""
    if not url.startswith("http://127.0.0.1:"):
        raise BenchError(f"refusing non-loopback URL {url}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore *_proxy env
    try:
        with opener.open(url, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def wait_ready(procs: Processes, name: str, proc: subprocess.Popen[bytes], url: str) -> None:
    """Poll url until it answers 200, failing with the server's log if it dies or times out."""

    def not_ready() -> str | None:
        try:
            status, _ = http_get(url, timeout=2.0)
        except OSError as exc:
            return str(exc)
        return None if status == 200 else f"HTTP {status}"

    wait_until_ready(procs, name, proc, not_ready, f"ready at {url}")


def nginx_modules_missing() -> set[str]:
    """Return the temp-path-owning nginx modules this build was compiled without."""
    out = subprocess.run(  # noqa: S603
        [NGINX, "-V"], capture_output=True, text=True, check=False, timeout=10
    )
    text = out.stdout + out.stderr
    return {m for m in ("fastcgi", "uwsgi", "scgi") if f"--without-http_{m}_module" in text}


def nginx_main_conf(prefix: Path, server_block: str, missing: set[str]) -> str:
    """Return a complete unprivileged nginx.conf with everything under prefix."""
    temp_paths = [
        f"client_body_temp_path {prefix}/client_body;",
        f"proxy_temp_path {prefix}/proxy;",
    ]
    temp_paths += [
        f"{m}_temp_path {prefix}/{m};" for m in ("fastcgi", "uwsgi", "scgi") if m not in missing
    ]
    temps = "\n    ".join(temp_paths)
    return f"""daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    default_type application/json;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    server_tokens off;
    {temps}
{server_block}
}}
"""


def static_server_block(port: int, root: Path) -> str:
    """Return the server block that serves the JSON files and /healthz."""
    return f"""    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /static/ {{
            etag off;
        }}
        location = /healthz {{
            return 200 "ok\\n";
        }}
    }}"""


def proxy_server_block(port: int, upstream_port: int) -> str:
    """Return the reverse-proxy server block mapping /api/static/ to the static nginx."""
    return f"""    upstream static_upstream {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port};
        location /api/static/ {{
            proxy_pass http://static_upstream/static/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffer_size 16k;
            proxy_buffers 16 16k;
        }}
        location = /healthz {{
            return 200 "ok\\n";
        }}
    }}"""


def start_nginx(procs: Processes, tmp: Path, name: str, port: int, block: str) -> None:
    """Write a config under tmp/<name>/ and start nginx in the foreground."""
    prefix = tmp / name
    prefix.mkdir(mode=0o755)
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_main_conf(prefix, block, nginx_modules_missing()))
    argv = [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    proc = procs.start(name, argv, cwd=prefix)
    wait_ready(procs, name, proc, f"http://127.0.0.1:{port}/healthz")
    log(f"{name} up on 127.0.0.1:{port}")


def write_static_files(tmp: Path, sizes: Sequence[Size]) -> tuple[Path, dict[str, bytes]]:
    """Generate the JSON files under tmp/www/static and return the root and the bodies."""
    root = tmp / "www"
    (root / "static").mkdir(parents=True, mode=0o755)
    bodies: dict[str, bytes] = {}
    for size in sizes:
        body = json_body(size.nbytes)
        json.loads(body)
        (root / "static" / f"{size.label}.json").write_bytes(body)
        bodies[size.label] = body
    return root, bodies


def next_digest() -> str:
    """Hash the Next.js app's sources so a stale build can be detected."""
    h = hashlib.sha256()
    files = [NEXT_DIR / name for name in NEXT_SOURCES]
    files += sorted(p for p in (NEXT_DIR / "app").rglob("*") if p.is_file())
    for path in files:
        h.update(str(path.relative_to(NEXT_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def read_stamp() -> dict[str, Any]:
    """Return the stamp of the last build, or {} if there is none."""
    try:
        data = json.loads(NEXT_STAMP.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def choose_static_port(want_next: bool) -> int:
    """Pick the static nginx port, reusing the one the Next.js build was made for if free."""
    if want_next:
        built = read_stamp().get("static_port")
        for port in (built, DEFAULT_STATIC_PORT):
            if isinstance(port, int) and port_is_free(port):
                return port
    return free_port()


def run_checked(argv: Sequence[str], cwd: Path, env: Mapping[str, str], what: str) -> None:
    """Run a build step in the foreground, failing with its output if it fails."""
    log(f"{what}: {' '.join(argv)}")
    res = subprocess.run(  # noqa: S603
        list(argv),
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=BUILD_TIMEOUT_S,
    )
    if res.returncode != 0:
        raise BenchError(
            f"{what} failed ({res.returncode}):\n{res.stdout[-3000:]}{res.stderr[-3000:]}"
        )


def ensure_node_modules() -> None:
    """Run npm ci if node_modules is missing or older than package-lock.json."""
    marker = NEXT_DIR / "node_modules" / ".package-lock.json"
    lock = NEXT_DIR / "package-lock.json"
    if marker.exists() and NEXT_BIN.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError("npm not found; install Node.js 20+ or leave 'next' out of --targets")
    run_checked([npm, "ci", "--no-audit", "--no-fund"], NEXT_DIR, {}, "npm ci")


def next_env(static_port: int) -> dict[str, str]:
    """Return the environment for next build / next start."""
    return {
        "BENCH_STATIC_ORIGIN": f"http://127.0.0.1:{static_port}",
        "NEXT_TELEMETRY_DISABLED": "1",
        "NODE_ENV": "production",
    }


def build_id() -> str | None:
    """Return the BUILD_ID of the current Next.js build, if there is one."""
    try:
        return (NEXT_DIR / ".next" / "BUILD_ID").read_text().strip()
    except OSError:
        return None


def ensure_next_build(node: str, static_port: int) -> None:
    """Run next build unless a build for these sources and this static port exists."""
    with (NEXT_DIR / "package.json").open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs must not build at once
        ensure_node_modules()
        want = {"static_port": static_port, "digest": next_digest()}
        stamp = read_stamp()
        current = build_id()
        if (
            current
            and stamp.get("build_id") == current
            and all(stamp.get(k) == v for k, v in want.items())
        ):
            log("Next.js build is up to date")
            return
        env = next_env(static_port)
        run_checked([node, str(NEXT_BIN), "build"], NEXT_DIR, env, "next build")
        NEXT_STAMP.write_text(json.dumps({**want, "build_id": build_id()}))


def start_next(procs: Processes, static_port: int) -> Target:
    """Build if needed and start the Next.js app with next start."""
    node = shutil.which("node")
    if node is None:
        raise BenchError("node not found; install Node.js 20+ or leave 'next' out of --targets")
    ensure_next_build(node, static_port)
    port = free_port()
    argv = [node, str(NEXT_BIN), "start", "-p", str(port), "-H", "127.0.0.1"]
    proc = procs.start("next", argv, cwd=NEXT_DIR, env={**os.environ, **next_env(static_port)})
    wait_ready(procs, "next", proc, f"http://127.0.0.1:{port}/")
    log(f"next up on 127.0.0.1:{port}")
    return Target("next", f"http://127.0.0.1:{port}", "/api/static")


def gunicorn_path() -> Path:
    """Return the repo venv's gunicorn, falling back to the running interpreter's."""
    repo_bin = REPO / ".venv" / "bin" / "gunicorn"
    return repo_bin if repo_bin.exists() else Path(sys.executable).parent / "gunicorn"


def start_bff(
    procs: Processes, tmp: Path, static_port: int, key: str = "bff", root: Path = REPO
) -> Target:
    """Start the BFF exactly as production does, with a routes file pointing at static nginx;
    ``root`` is the checkout whose code runs (the baseline's, for ``key == "base"``)."""
    routes = tmp / f"routes-{key}.toml"
    routes.write_text(ROUTES_TOML)
    port = free_port()
    env = {
        "BFF_BIND": f"127.0.0.1:{port}",
        "BFF_ROUTES_FILE": str(routes),
        "BFF_UPSTREAM_STATIC_URL": f"http://127.0.0.1:{static_port}",
    }
    if root != REPO:  # the baseline's packages shadow the installed (editable) ones
        env["PYTHONPATH"] = f"{root / 'bff' / 'src'}:{root / 'lib' / 'logship' / 'src'}"
    argv = [str(gunicorn_path()), "-c", "bff/gunicorn.conf.py", "bff:create_app()"]
    proc = procs.start(key, argv, cwd=root, env={**os.environ, **env})
    wait_ready(procs, key, proc, f"http://127.0.0.1:{port}/healthz")
    log(f"{key} up on 127.0.0.1:{port}")
    return Target(key, f"http://127.0.0.1:{port}", "/api/static")


def check_body(target: Target, size: Size, expected: bytes) -> None:
    """Fail unless one GET returns 200 with exactly the expected body."""
    url = target.url(size)
    try:
        status, body = http_get(url)
    except OSError as exc:
        raise BenchError(f"correctness check failed for {LABELS[target.key]} {url}: {exc}") from exc
    if status != 200 or body != expected:
        raise BenchError(
            f"correctness check failed for {LABELS[target.key]} {url}: HTTP {status}, "
            f"{len(body)} bytes (want 200, {len(expected)} bytes); starts {body[:120]!r}"
        )


def wrk_argv(url: str, connections: int, duration: int, cpu: str) -> list[str]:
    """Return the wrk command line, optionally pinned with taskset."""
    pin = [] if cpu == "none" else ["taskset", "-c", cpu]
    return [*pin, WRK, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]


def run_wrk(url: str, connections: int, duration: int, cpu: str) -> str:
    """Run wrk once against a loopback URL and return its output."""
    if not url.startswith("http://127.0.0.1:"):
        raise BenchError(f"refusing to load non-loopback URL {url}")
    res = subprocess.run(  # noqa: S603
        wrk_argv(url, connections, duration, cpu),
        capture_output=True,
        text=True,
        check=False,
        timeout=duration + 60,
    )
    if res.returncode != 0 or "Requests/sec" not in res.stdout:
        raise BenchError(f"wrk failed on {url} ({res.returncode}):\n{res.stdout}{res.stderr}")
    return res.stdout


def to_ms(value: str, unit: str) -> float:
    """Convert a wrk latency figure to milliseconds."""
    return float(value) * UNIT_MS[unit]


def parse_wrk(out: str) -> WrkStats:
    """Parse rps, p50, p99, request and error counts from wrk --latency output."""
    rps = RPS_RE.search(out)
    reqs = REQS_RE.search(out)
    pcts = {m.group(1): to_ms(m.group(2), m.group(3)) for m in PCT_RE.finditer(out)}
    if rps is None or reqs is None or set(pcts) != {"50", "99"}:
        raise BenchError(f"cannot parse wrk output:\n{out}")
    non2xx = NON2XX_RE.search(out)
    sockerr = SOCKERR_RE.search(out)
    return WrkStats(
        rps=float(rps.group(1)),
        p50_ms=pcts["50"],
        p99_ms=pcts["99"],
        requests=int(reqs.group(1)),
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(g) for g in sockerr.groups()) if sockerr else 0,
    )


def measure(
    target: Target, size: Size, connections: int, opts: Options, pgids: frozenset[int]
) -> Measurement:
    """Run one wrk measurement and return it."""
    start = cpu_sample(pgids)
    out = run_wrk(target.url(size), connections, opts.duration, opts.wrk_cpu)
    other = other_cpu_pct(start, cpu_sample(pgids))
    stats = parse_wrk(out)
    m = Measurement(target.key, size.label, connections, opts.duration, stats, other)
    log(
        f"  {LABELS[target.key]:<17} {size.label:>5} c={connections:<3} "
        f"rps={stats.rps:>10.1f} p50={stats.p50_ms:.3f}ms p99={stats.p99_ms:.3f}ms "
        f"other-cpu={fmt(other, '.0f', '%')}"
    )
    if stats.non_2xx or stats.socket_errors:
        log(f"  WARNING: {stats.non_2xx} non-2xx responses, {stats.socket_errors} socket errors")
    return m


def bench_target(
    target: Target, size: Size, body: bytes, opts: Options, pgids: frozenset[int]
) -> tuple[Measurement, Measurement]:
    """Check, warm up, then measure one target at N connections and at one connection."""
    check_body(target, size, body)
    run_wrk(target.url(size), opts.connections, opts.warmup, opts.wrk_cpu)
    loaded = measure(target, size, opts.connections, opts, pgids)
    single = measure(target, size, 1, opts, pgids)
    return loaded, single


def command_version(argv: Sequence[str]) -> str:
    """Return the first line a --version style command prints, or 'unavailable'."""
    if shutil.which(argv[0]) is None:
        return "unavailable"
    res = subprocess.run(  # noqa: S603
        list(argv), capture_output=True, text=True, check=False, timeout=10
    )
    lines = (res.stdout + res.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unavailable"


def next_version() -> str:
    """Return the installed next package version, or 'unavailable'."""
    try:
        return str(json.loads((NEXT_DIR / "node_modules/next/package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unavailable"


def machine_info() -> dict[str, Any]:
    """Collect the machine and tool versions the figures depend on."""
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "nginx": command_version([NGINX, "-v"]),
        "wrk": command_version([WRK, "-v"]),
        "node": command_version(["node", "--version"]),
        "next": next_version(),
        "python": platform.python_version(),
        "gunicorn": package_version("gunicorn"),
        "gevent": package_version("gevent"),
        "flask": package_version("flask"),
        "repo_commit": repo_commit(REPO),
        "bff_sources_sha256": bff_digest(REPO),
    }


def find(results: Sequence[Measurement], target: str, size: str) -> Measurement | None:
    """Return the measurement for a target and size, if any."""
    return next((m for m in results if m.target == target and m.size == size), None)


def ratio_rows(loaded: Sequence[Measurement], sizes: Sequence[Size]) -> list[dict[str, Any]]:
    """Compute BFF rps ratios against Next.js rewrites and nginx proxy per size."""
    rows: list[dict[str, Any]] = []
    for size in sizes:
        bff = find(loaded, "bff", size.label)
        for ref in ("next", "nginx", "base"):
            other = find(loaded, ref, size.label)
            if ref == "base" and other is None:
                continue
            value = bff.stats.rps / other.stats.rps if bff and other and other.stats.rps else None
            goal = RPS_TARGETS.get((ref, size.label))
            rows.append(
                {
                    "name": f"BFF / {LABELS[ref]} rps",
                    "size": size.label,
                    "ratio": value,
                    "target_min": goal,
                    "met": verdict(value, goal, True),
                }
            )
        for ref in ("next", "base"):
            other = find(loaded, ref, size.label)
            if ref == "base" and other is None:
                continue
            value = (
                bff.stats.p99_ms / other.stats.p99_ms
                if bff and other and other.stats.p99_ms
                else None
            )
            limit = P99_MAX_VS_NEXT.get(size.label) if ref == "next" else None
            rows.append(
                {
                    "name": f"BFF p99 / {LABELS[ref]} p99",
                    "size": size.label,
                    "ratio": value,
                    "target_max": limit,
                    "met": verdict(value, limit, False),
                }
            )
    return rows


def added_p50_rows(single: Sequence[Measurement], sizes: Sequence[Size]) -> list[dict[str, Any]]:
    """Compute p50 at one connection minus the static direct p50, per proxy and size."""
    rows: list[dict[str, Any]] = []
    for size in sizes:
        direct = find(single, "direct", size.label)
        for key in ("bff", "base", "nginx", "next"):
            m = find(single, key, size.label)
            if key == "base" and m is None:
                continue
            value = m.stats.p50_ms - direct.stats.p50_ms if m and direct else None
            goal = ADDED_P50_TARGET_MS if key == "bff" else None
            rows.append(
                {
                    "name": f"added p50 @c1: {LABELS[key]} - direct",
                    "size": size.label,
                    "added_ms": value,
                    "target_max_ms": goal,
                    "met": verdict(value, goal, False),
                }
            )
    return rows


def verdict(value: float | None, goal: float | None, higher_is_better: bool) -> bool | None:
    """Say whether a value meets a goal; None when there is no goal or no value."""
    if value is None or goal is None:
        return None
    return value >= goal if higher_is_better else value <= goal


def met_text(row: Mapping[str, Any], goal_text: str, quick: bool) -> str:
    """Render the target column of a summary line."""
    if not goal_text:
        return "(context)"
    return f"target {goal_text:<10} {verdict_text(row['met'], quick)}"


def fmt(value: float | None, spec: str, suffix: str) -> str:
    """Format an optional number, or 'n/a'."""
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def print_table(title: str, rows: Sequence[Measurement]) -> None:
    """Print a measurement table."""
    print(f"\n{title}")
    print(
        f"{'target':<18}{'size':>6}{'rps':>12}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
        f"{'other cpu':>11}"
    )
    for m in rows:
        s = m.stats
        errors = s.non_2xx + s.socket_errors
        other = fmt(m.other_cpu_pct, ".0f", "%")
        print(
            f"{LABELS[m.target]:<18}{m.size:>6}{s.rps:>12.1f}{s.p50_ms:>10.3f}"
            f"{s.p99_ms:>10.3f}{errors:>8}{other:>11}"
        )


def print_summary(
    ratios: Sequence[Mapping[str, Any]], added: Sequence[Mapping[str, Any]], quick: bool
) -> None:
    """Print rps ratios and added latency next to the product targets."""
    print("\nRatios and product targets")
    for r in ratios:
        if r.get("target_max") is not None:
            goal = f"<= {r['target_max']:.2f}x"
        elif r.get("target_min") is not None:
            goal = f">= {r['target_min']:.2f}x"
        else:
            goal = ""
        value = fmt(r["ratio"], ".2f", "x")
        print(f"  {r['name']:<46}{r['size']:>6}  {value:>10}   {met_text(r, goal, quick)}")
    for r in added:
        goal = f"<= {r['target_max_ms']:.2f} ms" if r["target_max_ms"] is not None else ""
        value = fmt(r["added_ms"], "+.3f", " ms")
        print(f"  {r['name']:<46}{r['size']:>6}  {value:>10}   {met_text(r, goal, quick)}")


def start_servers(
    procs: Processes, tmp: Path, root: Path, opts: Options, skipped: dict[str, str]
) -> list[Target]:
    """Start every requested server and return the targets that are up."""
    want_next = "next" in opts.targets
    static_port = choose_static_port(want_next)
    start_nginx(procs, tmp, "nginx-static", static_port, static_server_block(static_port, root))
    targets = [Target("direct", f"http://127.0.0.1:{static_port}", "/static")]
    if "nginx" in opts.targets:
        port = free_port()
        start_nginx(procs, tmp, "nginx-proxy", port, proxy_server_block(port, static_port))
        targets.append(Target("nginx", f"http://127.0.0.1:{port}", "/api/static"))
    if want_next:
        targets.append(start_next(procs, static_port))
    if "bff" in opts.targets:
        if BFF_CONF.exists():
            targets.append(start_bff(procs, tmp, static_port))
        else:
            skipped["bff"] = f"{BFF_CONF.relative_to(REPO)} not found"
            log(f"SKIPPING BFF: {skipped['bff']} (the BFF is not in this checkout yet)")
    if "base" in opts.targets and opts.baseline:
        root = export_tree(REPO, opts.baseline, tmp / "baseline")
        targets.append(start_bff(procs, tmp, static_port, "base", root))
    return targets


def run_all(
    targets: Sequence[Target], bodies: Mapping[str, bytes], opts: Options, pgids: frozenset[int]
) -> tuple[list[Measurement], list[Measurement]]:
    """Benchmark every target at every size, round-robin, opts.repeat times."""
    loaded: list[Measurement] = []
    single: list[Measurement] = []
    for round_no in range(1, opts.repeat + 1):
        if opts.repeat > 1:
            log(f"round {round_no}/{opts.repeat}")
        for size in opts.sizes:
            for target in targets:
                a, b = bench_target(target, size, bodies[size.label], opts, pgids)
                loaded.append(a)
                single.append(b)
    return loaded, single


def median_of(runs: Sequence[Measurement]) -> Measurement:
    """Combine repeated runs of one target/size/connections into their medians."""
    stats = [m.stats for m in runs]
    combined = WrkStats(
        rps=statistics.median(s.rps for s in stats),
        p50_ms=statistics.median(s.p50_ms for s in stats),
        p99_ms=statistics.median(s.p99_ms for s in stats),
        requests=sum(s.requests for s in stats),
        non_2xx=sum(s.non_2xx for s in stats),
        socket_errors=sum(s.socket_errors for s in stats),
    )
    others = [m.other_cpu_pct for m in runs if m.other_cpu_pct is not None]
    other = statistics.median(others) if others else None
    return dataclasses.replace(runs[0], stats=combined, other_cpu_pct=other, runs=len(runs))


def medians(results: Sequence[Measurement]) -> list[Measurement]:
    """Group runs by target, size and connections (first-seen order) and take medians."""
    groups: dict[tuple[str, str, int], list[Measurement]] = {}
    for m in results:
        groups.setdefault((m.target, m.size, m.connections), []).append(m)
    return [median_of(runs) for runs in groups.values()]


def check_tools(opts: Options) -> None:
    """Fail early when nginx, wrk or taskset are missing."""
    needed = [NGINX, WRK] + ([] if opts.wrk_cpu == "none" else ["taskset"])
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        raise BenchError(f"missing tools: {', '.join(missing)} (Debian: nginx-light wrk)")


def report(
    opts: Options, all_loaded: list[Measurement], all_single: list[Measurement], env: RunEnv
) -> dict[str, Any]:
    """Print the tables and return the full results as a JSON-ready dict."""
    loaded, single = medians(all_loaded), medians(all_single)
    ratios = ratio_rows(loaded, opts.sizes)
    added = added_p50_rows(single, opts.sizes)
    rounds = f", median of {opts.repeat} rounds" if opts.repeat > 1 else ""
    print_table(f"Throughput: wrk -t1 -c{opts.connections} -d{opts.duration}s{rounds}", loaded)
    print_table(f"One connection: wrk -t1 -c1 -d{opts.duration}s{rounds}", single)
    print_summary(ratios, added, opts.quick)
    print_env(env)
    return {
        "config": {
            "duration_s": opts.duration,
            "connections": opts.connections,
            "warmup_s": opts.warmup,
            "sizes": {s.label: s.nbytes for s in opts.sizes},
            "quick": opts.quick,
            "wrk_cpu": opts.wrk_cpu,
            "repeat": opts.repeat,
        },
        "machine": machine_info(),
        "background_cpu_busy_pct": {"before": env.busy_before_pct, "after": env.busy_after_pct},
        "loaded": [dataclasses.asdict(m) for m in loaded],
        "one_connection": [dataclasses.asdict(m) for m in single],
        "ratios": ratios,
        "added_p50": added,
        "skipped": env.skipped,
        "runs": [dataclasses.asdict(m) for m in all_loaded + all_single],
    }


def print_env(env: RunEnv) -> None:
    """Print skipped targets and the background CPU load around the run."""
    before = fmt(env.busy_before_pct, ".0f", "%")
    after = fmt(env.busy_after_pct, ".0f", "%")
    print(f"\nBackground CPU busy (servers idle): before {before}, after {after}")
    for key, why in env.skipped.items():
        print(f"SKIPPED {LABELS[key]}: {why}")


def strict_errors(results: Sequence[Measurement]) -> list[str]:
    """List runs with non-2xx responses or socket errors (fatal in --quick mode)."""
    return [
        f"{LABELS[m.target]} {m.size} c={m.connections}: "
        f"{m.stats.non_2xx} non-2xx, {m.stats.socket_errors} socket errors"
        for m in results
        if m.stats.non_2xx or m.stats.socket_errors or m.stats.requests == 0
    ]


def benchmark(opts: Options) -> int:
    """Start everything in a temp dir, measure, report, and stop everything."""
    check_tools(opts)
    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
        if not opts.keep_tmp:
            stack.callback(shutil.rmtree, tmp, True)
        tmp.chmod(0o755)  # nginx workers may run as another user when started as root
        procs = Processes(tmp)
        stack.callback(procs.close)
        env = RunEnv(busy_before_pct=busy_pct())
        warn_if_busy(env.busy_before_pct, "before the run")
        root, bodies = write_static_files(tmp, opts.sizes)
        targets = start_servers(procs, tmp, root, opts, env.skipped)
        loaded, single = run_all(targets, bodies, opts, procs.pgids())
        env.busy_after_pct = busy_pct()
        warn_if_busy(env.busy_after_pct, "after the run")
        results = report(opts, loaded, single, env)
        if opts.json_path is not None:
            opts.json_path.parent.mkdir(parents=True, exist_ok=True)
            opts.json_path.write_text(json.dumps(results, indent=2) + "\n")
            log(f"wrote {opts.json_path}")
        if opts.keep_tmp:
            log(f"kept {tmp}")
    problems = strict_errors(loaded + single)
    for problem in problems:
        log(f"error responses: {problem}")
    return 1 if opts.quick and problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    return run_benchmark(lambda: benchmark(opts))


if __name__ == "__main__":
    sys.exit(main())
