"""The four images built for real with podman and run: alone, then the whole compose file.

``make test-images`` (part of ``make test``). No registry is reachable here, so the images are
built on local Debian bases (``scripts/container-bases.sh``, built once and reused) through the
Dockerfiles' ``PYTHON_IMAGE`` / ``NODE_IMAGE`` arguments. Each image alone: its port answers,
its HEALTHCHECK turns it healthy (driven with ``podman healthcheck run``), PID 1 runs as uid
10001, a missing required variable stops it with one line and a non-zero exit, ``podman stop``
reaches PID 1 with SIGTERM and it exits promptly; the BFF delivers its queued log records to the
emulator image before it exits. The web image's ``sourcemaps`` stage is exported and checked.
Then ``docker-compose.yml`` under docker-compose 1.29 and a dockerd started here (podman-compose
ignores ``condition: service_healthy``): start order, web -> bff -> django, an order through
web -> bff -> fastapi -> django, the BFF's access record in the emulator, ``down`` in reverse.
Skipped, with the reason printed, only on a host that cannot run containers at all.
"""

from __future__ import annotations

import html
import json
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from .containers import BASES, CONTAINERS_DIR, LABEL, Dockerd, Podman, cannot_run_containers
from .containers import node_base as _node_base
from .procs import ROOT, free_port

REGION = "eu-west-1"
GRACE = 30  # podman stop -t: SIGKILL after this; every image must be gone well before


def say(request: pytest.FixtureRequest, line: str) -> None:
    """A line on the terminal even under -q (timings, skip reasons)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(line, file=sys.stderr)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


def du(path: Path) -> int:
    out = subprocess.run(
        ["du", "-sxb", str(path)], capture_output=True, text=True, timeout=300, check=False
    )
    return int(out.stdout.split()[0]) if out.returncode == 0 and out.stdout else 0


def fetch(
    url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def wait_for(url: str, timeout: float = 60) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            status, _, body = fetch(url)
            if status < 500:
                return status, body
        except OSError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {timeout} s: {last}")


def log_events(endpoint: str, group: str) -> list[dict[str, Any]]:
    """Every JSON record in ``group`` of the emulator at ``endpoint``."""
    logs = boto3.client(
        "logs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    records = []
    try:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    for stream in streams:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
        )["events"]
        for event in events:
            try:
                records.append(json.loads(event["message"]))
            except ValueError:
                continue
    return records


@dataclass
class Images:
    bff: str
    web: str
    upstreams: str
    emulator: str
    redis: str
    release: str


@pytest.fixture(scope="module")
def podman(request: pytest.FixtureRequest) -> Iterator[Podman]:
    reason = cannot_run_containers()
    if reason:
        say(request, f"SKIPPED image tests: this host cannot run containers: {reason}")
        pytest.skip(f"this host cannot run containers: {reason}")
    started = time.monotonic()
    bases = subprocess.run(
        [str(ROOT / "scripts" / "container-bases.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert bases.returncode == 0, bases.stdout + bases.stderr
    say(request, f"container bases ready in {time.monotonic() - started:.0f} s")
    pm = Podman()
    pm.remove_stale()
    request.config.stash[_disk_key] = du(CONTAINERS_DIR)
    try:
        yield pm
    finally:
        peak = max(request.config.stash.get(_disk_key, 0), du(CONTAINERS_DIR))
        pm.cleanup()
        say(
            request,
            f"container storage: peak {peak / 1e9:.2f} GB, after cleanup "
            f"{du(CONTAINERS_DIR) / 1e9:.2f} GB ({CONTAINERS_DIR})",
        )


_disk_key = pytest.StashKey[int]()


def note_disk(request: pytest.FixtureRequest, extra: int = 0) -> None:
    request.config.stash[_disk_key] = max(
        request.config.stash.get(_disk_key, 0), du(CONTAINERS_DIR) + extra
    )


@pytest.fixture(scope="module")
def images(podman: Podman, request: pytest.FixtureRequest) -> Images:
    python = {"PYTHON_IMAGE": BASES["python"]}
    release = f"imgtest-{secrets.token_hex(6)}"
    built = Images(
        bff=podman.tag("bff"),
        web=podman.tag("web"),
        upstreams=podman.tag("upstreams"),
        emulator=podman.tag("emulator"),
        redis=BASES["redis"],
        release=release,
    )
    started = time.monotonic()
    podman.build("Dockerfile.bff", built.bff, python)
    podman.build("deploy/upstreams.Dockerfile", built.upstreams, python)
    podman.build("deploy/emulator.Dockerfile", built.emulator, python)
    web_args = {"NODE_IMAGE": _node_base(), "WEB_RELEASE": release}
    podman.build("Dockerfile.web", built.web, web_args)
    say(request, f"four images built in {time.monotonic() - started:.0f} s")
    note_disk(request)
    return built


@pytest.fixture(scope="module")
def network(podman: Podman) -> str:
    name = f"front-door-test-{podman.run_id}"
    podman("network", "create", "--label", f"{LABEL}={podman.run_id}", name)
    return name


@pytest.fixture(scope="module")
def emulator(podman: Podman, images: Images, network: str) -> tuple[str, str]:
    """The emulator image on the test network: (container, URL from the host)."""
    name = podman.start(images.emulator, "logs", ports=[4566], network=network)
    url = f"http://127.0.0.1:{podman.host_port(name, 4566)}"
    wait_for(f"{url}/moto-api/")
    return name, url


def compose_healthcheck(service: str) -> list[str]:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    test = doc["services"][service]["healthcheck"]["test"]
    assert test[0] == "CMD", test
    return list(test[1:])


def assert_stops_on_sigterm(podman: Podman, name: str, codes: tuple[int, ...]) -> None:
    config = podman.inspect(name)["Config"]
    assert config.get("StopSignal") in (15, "15", "SIGTERM"), config.get("StopSignal")
    code, elapsed = podman.stop(name, GRACE)
    # 137 would be the SIGKILL after the grace period: SIGTERM did not reach PID 1 or was ignored.
    assert code in codes, (code, podman.logs(name)[-3000:])
    assert elapsed < 15, f"{name} took {elapsed:.1f} s to stop on SIGTERM"


# --- the images, each alone -------------------------------------------------------------------


def test_images_keep_healthcheck_user_and_stopsignal(podman: Podman, images: Images) -> None:
    for image, has_healthcheck in (
        (images.bff, True),
        (images.web, True),
        (images.emulator, True),
        (images.upstreams, False),  # per service, in docker-compose.yml
    ):
        data = podman.inspect(image)
        config = data["Config"]
        assert config.get("User") == "10001:10001", (image, config.get("User"))
        healthcheck = data.get("Healthcheck") or config.get("Healthcheck")
        assert bool(healthcheck) == has_healthcheck, (image, data)
        if image != images.emulator:
            assert config.get("StopSignal") in ("SIGTERM", "15", 15), (image, config)
    # The runner serves no browser source map: they are only in the `sourcemaps` stage.
    static = ["find", "/app/.next/static", "-name", "*.map"]
    assert podman("run", "--rm", images.web, *static).stdout.split() == []
    assert podman("run", "--rm", images.web, "test", "-d", "/app/.next/static").returncode == 0


def test_emulator_image(podman: Podman, emulator: tuple[str, str]) -> None:
    name, url = emulator
    status, _ = wait_for(f"{url}/moto-api/")
    assert status == 200
    podman.wait_healthy(name)
    assert podman.pid1_uid(name) == 10001


@pytest.mark.parametrize("service", ["django", "fastapi"])
def test_upstream_images(podman: Podman, images: Images, network: str, service: str) -> None:
    port = 8001 if service == "django" else 8002
    run = f"upstreams/{service}_api/run.py"
    env = {"LOG_CLOUDWATCH_GROUP": "", "DJANGO_SECRET_KEY": secrets.token_hex(32)}
    if service == "fastapi":
        env["CATALOG_API_URL"] = "http://127.0.0.1:9"
    health = json.dumps(compose_healthcheck(service))
    name = podman.start(
        images.upstreams,
        service,
        env,
        ports=[port],
        network=network,
        extra=["--health-cmd", health, "--health-interval", "5s", "--health-retries", "10"],
        command=["python", run, "--host", "0.0.0.0", "--port", str(port)],
    )
    status, _ = wait_for(f"http://127.0.0.1:{podman.host_port(name, port)}/healthz")
    assert status == 200
    podman.wait_healthy(name)
    assert podman.pid1_uid(name) == 10001
    assert_stops_on_sigterm(podman, name, (0,))


def test_bff_image_serves_stops_and_delivers_its_logs(
    podman: Podman, images: Images, network: str, emulator: tuple[str, str]
) -> None:
    logs_name, logs_url = emulator
    group = f"/test/images-{podman.run_id}"
    env = {
        "BFF_UPSTREAM_CATALOG_URL": "http://127.0.0.1:9",
        "BFF_UPSTREAM_ORDERS_URL": "http://127.0.0.1:9",
        "LOG_CLOUDWATCH_GROUP": group,
        "LOG_CLOUDWATCH_ENDPOINT": f"http://{podman.ip(logs_name)}:4566",
        "LOG_CLOUDWATCH_CREATE_GROUP": "1",
        # Nothing is sent before shutdown: what arrives was queued and flushed on SIGTERM.
        "LOG_FLUSH_INTERVAL": "600",
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    name = podman.start(images.bff, "bff", env, ports=[8080], network=network)
    url = f"http://127.0.0.1:{podman.host_port(name, 8080)}"
    status, body = wait_for(f"{url}/healthz")
    assert status == 200, body
    podman.wait_healthy(name)
    assert podman.pid1_uid(name) == 10001
    request_id = f"img-{secrets.token_hex(8)}"
    status, headers, _ = fetch(f"{url}/api/catalog/items", headers={"X-Request-ID": request_id})
    assert status in (502, 503, 504) and headers["x-request-id"] == request_id
    assert not [r for r in log_events(logs_url, group) if r.get("request_id") == request_id]

    assert_stops_on_sigterm(podman, name, (0,))
    assert "Handling signal: term" in podman.logs(name)
    access = [
        r
        for r in log_events(logs_url, group)
        if r.get("request_id") == request_id and r.get("logger") == "bff.access"
    ]
    assert len(access) == 1, log_events(logs_url, group)[-5:]


@pytest.mark.parametrize(
    ("image", "env", "code", "prefix", "named"),
    [
        ("bff", {"BFF_UPSTREAM_CATALOG_URL": "http://c"}, 2, "bff:", "BFF_UPSTREAM_ORDERS_URL"),
        ("bff", {"BFF_UPSTREAM_ORDERS_URL": "http://o"}, 2, "bff:", "BFF_UPSTREAM_CATALOG_URL"),
        ("web", {}, 1, "web:", "BFF_URL"),
    ],
)
def test_missing_required_variable_stops_the_container_with_one_line(
    podman: Podman,
    images: Images,
    image: str,
    env: dict[str, str],
    code: int,
    prefix: str,
    named: str,
) -> None:
    argv = ["run", "--rm", "--label", f"{LABEL}={podman.run_id}"]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    result = podman(*argv, getattr(images, image), check=False, timeout=120)
    lines = (result.stdout + result.stderr).strip().splitlines()
    # podman's own complaints about systemd timers are not the container's output
    lines = [line for line in lines if "systemd" not in line]
    assert result.returncode == code, (result.returncode, lines)
    assert len(lines) == 1 and lines[0].startswith(f"{prefix} configuration error: "), lines
    assert named in lines[0], lines


def test_web_image_serves_and_exits_143_on_sigterm(
    podman: Podman, images: Images, network: str
) -> None:
    env = {"BFF_URL": "http://127.0.0.1:9"}  # alone: the pages are the calm "unavailable" ones
    name = podman.start(images.web, "web", env, ports=[3000], network=network)
    url = f"http://127.0.0.1:{podman.host_port(name, 3000)}"
    wait_for(f"{url}/")
    status, headers, body = fetch(f"{url}/")
    assert status == 200 and "text/html" in headers["content-type"], (status, body[:300])
    podman.wait_healthy(name)
    assert podman.pid1_uid(name) == 10001
    # Next's standalone server exits 143 on SIGTERM on purpose (and promptly).
    assert_stops_on_sigterm(podman, name, (0, 143))


def test_web_sourcemaps_stage_holds_the_release_maps(
    podman: Podman, images: Images, tmp_path: Path
) -> None:
    dest = tmp_path / "sourcemaps"
    web_args = {"NODE_IMAGE": _node_base(), "WEB_RELEASE": images.release}
    podman.build(
        "Dockerfile.web",
        None,
        web_args,
        "--target",
        "sourcemaps",
        f"--output=type=local,dest={dest}",
    )
    assert [p.name for p in dest.iterdir()] == [images.release]
    maps = sorted((dest / images.release / "_next" / "static").rglob("*.js.map"))
    assert maps, list(dest.rglob("*"))[:20]
    for path in maps:
        doc = json.loads(path.read_text())
        assert doc["version"] == 3 and doc["sources"], path


# --- docker-compose.yml, whole -----------------------------------------------------------------

SERVICES = ("logs", "redis", "django", "fastapi", "bff", "web")


@dataclass
class Stack:
    dockerd: Dockerd
    project: str
    argv: list[str]
    env: dict[str, str]
    ports: dict[str, int]
    group: str
    since: str

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.argv, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
        return result

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def events(self) -> list[dict[str, Any]]:
        """This project's container events so far: start, health_status, die."""
        out = self.dockerd.docker(
            "events",
            "--since",
            self.since,
            "--until",
            str(int(time.time()) + 1),
            "--filter",
            "type=container",
            "--filter",
            f"label=com.docker.compose.project={self.project}",
            "--format",
            "{{json .}}",
            timeout=60,
        ).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def container_health(self) -> dict[str, str]:
        ids = self.dockerd.docker(
            "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}"
        ).stdout.split()
        found = json.loads(self.dockerd.docker("inspect", *ids).stdout) if ids else []
        return {
            c["Config"]["Labels"]["com.docker.compose.service"]: (
                (c["State"].get("Health") or {}).get("Status", c["State"]["Status"])
            )
            for c in found
        }


def first(events: list[dict[str, Any]], service: str, status: str) -> int:
    times = [
        int(e["timeNano"])
        for e in events
        if e["Actor"]["Attributes"].get("com.docker.compose.service") == service
        and e["status"] == status
    ]
    assert times, f"no {status!r} event for {service}"
    return min(times)


@pytest.fixture(scope="module")
def stack(
    podman: Podman, images: Images, request: pytest.FixtureRequest, tmp_path_factory: Any
) -> Iterator[Stack]:
    dockerd = Dockerd(CONTAINERS_DIR / f"dockerd-{podman.run_id}")
    try:
        dockerd.start()
        started = time.monotonic()
        archive = dockerd.root / "images.tar"
        tags = [images.bff, images.web, images.upstreams, images.emulator, images.redis]
        podman("save", "-m", "--format", "docker-archive", "-o", str(archive), *tags, timeout=600)
        dockerd.docker("load", "-q", "-i", str(archive), timeout=600)
        note_disk(request)
        archive.unlink()
        say(request, f"images loaded into the test dockerd in {time.monotonic() - started:.0f} s")

        work = tmp_path_factory.mktemp("compose")
        override = {
            "services": {
                "logs": {"image": images.emulator},
                "redis": {"image": images.redis},
                "django": {"image": images.upstreams},
                "fastapi": {"image": images.upstreams},
                "bff": {"image": images.bff},
                "web": {"image": images.web},
            }
        }
        (work / "override.yml").write_text(yaml.safe_dump(override))
        (work / "empty.env").write_text("")  # never a developer's own .env
        project = f"fdtest{podman.run_id.replace('-', '')}"
        ports = {name: free_port() for name in SERVICES}
        env = {
            **dockerd.env,
            "DJANGO_SECRET_KEY": secrets.token_hex(32),
            "LOG_CLOUDWATCH_GROUP": f"/test/compose-{podman.run_id}",
            **{
                ("DEV_LOGS_PORT" if n == "logs" else f"DEV_{n.upper()}_PORT"): str(p)
                for n, p in ports.items()
            },
        }
        argv = ["docker-compose", "--no-ansi", "--env-file", str(work / "empty.env")]
        argv += ["-p", project, "-f", str(ROOT / "docker-compose.yml")]
        argv += ["-f", str(work / "override.yml"), "--project-directory", str(ROOT)]
        since = str(int(time.time()) - 1)
        up = Stack(dockerd, project, argv, env, ports, env["LOG_CLOUDWATCH_GROUP"], since)
        started = time.monotonic()
        up.compose("up", "-d", "--no-build", timeout=600)
        deadline = time.monotonic() + 240
        while set(up.container_health().values()) != {"healthy"}:
            assert time.monotonic() < deadline, up.container_health()
            time.sleep(2)
        say(request, f"compose stack healthy in {time.monotonic() - started:.0f} s")
        yield up
    finally:
        try:
            if dockerd.proc is not None and dockerd.proc.poll() is None:
                subprocess.run(
                    [*argv, "down", "-v", "--timeout", "40"],
                    env=env,
                    capture_output=True,
                    timeout=300,
                    check=False,
                    cwd=ROOT,
                    stdin=subprocess.DEVNULL,
                )
        except (NameError, subprocess.TimeoutExpired):
            pass
        dockerd.stop()


def test_compose_starts_each_service_after_its_dependencies_are_healthy(stack: Stack) -> None:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    events = stack.events()
    assert stack.container_health() == dict.fromkeys(SERVICES, "healthy")
    for service in SERVICES:
        for dep in doc["services"][service].get("depends_on", {}):
            healthy = first(events, dep, "health_status: healthy")
            assert healthy < first(events, service, "start"), (service, dep)


def test_compose_web_lists_the_catalog_and_takes_an_order(stack: Stack) -> None:
    _, _, raw = fetch(f"{stack.url('bff')}/api/catalog/items?page=1&page_size=20")
    first_item = json.loads(raw)["items"][0]["name"]
    status, _, body = fetch(f"{stack.url('web')}/")
    assert status == 200
    assert html.escape(first_item) in body.decode()

    request_id = f"compose-{secrets.token_hex(8)}"
    payload = {"items": [{"item_id": 2, "quantity": 1}], "customer_email": "demo@example.com"}
    status, headers, body = fetch(
        f"{stack.url('web')}/api/orders",
        json.dumps(payload).encode(),
        {"Content-Type": "application/json", "X-Request-ID": request_id},
    )
    assert status == 201, body
    assert json.loads(body)["status"] == "confirmed"
    assert headers["x-request-id"] == request_id

    # Each service ships its own records on its own schedule: wait (bounded) until all three have
    # arrived, not just the BFF's.
    deadline = time.monotonic() + 60
    while True:
        records = log_events(stack.url("logs"), stack.group)
        mine = [r for r in records if r.get("request_id") == request_id]
        access = [r for r in mine if r.get("logger") == "bff.access"]
        services = {r.get("service") for r in mine}
        if access and {"bff", "orders", "catalog"} <= services:
            break
        assert time.monotonic() < deadline, (services, records[-5:])
        time.sleep(1)
    assert access[0]["data"]["status"] == 201, access


def test_compose_down_stops_in_reverse_order(stack: Stack) -> None:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    stack.compose("down", "-v", "--timeout", "40", timeout=300)
    events = stack.events()
    for service in SERVICES:
        for dep in doc["services"][service].get("depends_on", {}):
            assert first(events, service, "die") < first(events, dep, "die"), (service, dep)
    codes = {
        e["Actor"]["Attributes"]["com.docker.compose.service"]: e["Actor"]["Attributes"].get(
            "exitCode"
        )
        for e in events
        if e["status"] == "die"
    }
    assert "137" not in codes.values(), codes  # nothing needed SIGKILL
    leftover = stack.dockerd.docker(
        "ps", "-aq", "--filter", f"label=com.docker.compose.project={stack.project}"
    ).stdout.split()
    assert leftover == []
