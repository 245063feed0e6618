"""The container images and the compose file, checked without a Docker engine.

* hadolint on every Dockerfile;
* the BFF image's build replayed outside Docker: a clean export of the repository, a fresh
  virtualenv with exactly the Dockerfile's `pip install` line, then the image's CMD, ENV and
  HEALTHCHECK (parsed from Dockerfile.bff), plus its refusal to start without a required variable;
* the web image's runner stage: the standalone server with the Dockerfile's entry point and ENV;
* docker-compose.yml against the Compose specification's JSON schema (`docker compose config`
  needs the compose plugin, which this machine's docker client does not have).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .procs import BIN, ROOT, Service, free_port, start
from .test_web import fetch
from .web_site import WebBuild

DOCKERFILES = [
    ROOT / "Dockerfile.bff",
    ROOT / "Dockerfile.web",
    ROOT / "deploy" / "emulator.Dockerfile",
    ROOT / "deploy" / "upstreams.Dockerfile",
]
DEV_ONLY = ("pytest", "moto", "mypy", "hypothesis", "ruff", "django", "fastapi", "httpx")


# --- a small Dockerfile reader ----------------------------------------------------------------


@dataclass
class Stage:
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def one(self, keyword: str) -> str:
        found = self.all(keyword)
        assert len(found) == 1, f"{self.name}: expected one {keyword}, found {found}"
        return found[0]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                values[key] = value
        return values

    def exec_form(self, keyword: str) -> list[str]:
        args = self.one(keyword)
        if keyword == "HEALTHCHECK":
            args = args[args.index("CMD ") + 4 :]
        argv = json.loads(args)
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), args
        return argv


def read_dockerfile(path: Path) -> list[Stage]:
    """Instructions per stage: continuation lines joined, comments dropped."""
    stages: list[Stage] = []
    logical = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        keyword, _, args = logical.partition(" ")
        logical = ""
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            stages.append(Stage(parts[2] if len(parts) > 2 else f"stage{len(stages)}"))
        elif stages:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def copy_sources(args: str) -> tuple[list[str], str]:
    parts = [p for p in args.split() if not p.startswith("--")]
    return parts[:-1], parts[-1]


def repo_files() -> list[str]:
    """The files a fresh clone of this working tree has: tracked plus new, never ignored ones."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [rel for rel in listed.split("\0") if rel and (ROOT / rel).is_file()]


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """``.dockerignore`` as (exclude?, regex) rules; the last matching rule decides."""
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((not negate, re.compile(regex)))
    return rules


def in_build_context(rel: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether ``docker build .`` sends ``rel``: a file is left out when it or a parent matches."""
    parts = rel.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for exclude, regex in rules:
        if any(regex.fullmatch(c) for c in candidates):
            excluded = exclude
    return not excluded


def exported_tree(dest: Path) -> Path:
    """The build context `docker build .` would send from a fresh clone of this working tree."""
    rules = dockerignore_rules()
    for rel in repo_files():
        if in_build_context(rel, rules):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    return dest


# --- hadolint ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_is_clean(dockerfile: Path) -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_build_context_has_what_the_dockerfiles_copy_and_nothing_heavy() -> None:
    rules = dockerignore_rules()
    files = repo_files()
    sent = [f for f in files if in_build_context(f, rules)]
    for dockerfile in DOCKERFILES:
        for stage in read_dockerfile(dockerfile):
            for args in stage.all("COPY"):
                if "--from=" in args:
                    continue
                for src in copy_sources(args)[0]:
                    prefix = src.rstrip("/")
                    assert any(f == prefix or f.startswith(prefix + "/") for f in sent), (
                        f"{dockerfile.name}: COPY {src} is empty in the build context"
                    )
    for rel in (
        "web/package-lock.json",
        "web/src/lib/env.ts",
        "bff/gunicorn.conf.py",
        "lib/logship/src/logship/__init__.py",
        "deploy/web-start.mjs",
    ):
        assert in_build_context(rel, rules), rel
    for rel in (
        "web/node_modules/next/package.json",
        "web/.next/BUILD_ID",
        ".venv/bin/python",
        ".git/HEAD",
        "bff/tests/test_proxy.py",
        ".run/catalog.sqlite3",
        "bench/results/x.json",
        "lib/logship/src/logship.egg-info/PKG-INFO",
        "bff/src/bff/__pycache__/x.pyc",
        ".env",
    ):
        assert not in_build_context(rel, rules), rel
    assert in_build_context(".env.example", rules)


# --- the BFF image, replayed outside Docker ---------------------------------------------------


@dataclass
class BffImage:
    venv: Path
    app_dir: Path
    runtime: Stage
    spool: Path

    def env(self, **overrides: str) -> dict[str, str]:
        """The image's ENV with /opt/venv mapped to the fresh venv, plus ``overrides``."""
        env = {}
        for key, value in self.runtime.env().items():
            value = value.replace("$PATH", os.environ.get("PATH", "/usr/bin:/bin"))
            env[key] = value.replace("/opt/venv", str(self.venv))
        env["LOG_SPOOL_DIR"] = str(self.spool)
        env.update(overrides)
        return env


@pytest.fixture(scope="session")
def bff_image(tmp_path_factory: pytest.TempPathFactory) -> BffImage:
    stages = read_dockerfile(ROOT / "Dockerfile.bff")
    builder, runtime = stages[0], stages[-1]
    assert builder.name == "builder" and runtime.name == "runtime"
    export = exported_tree(tmp_path_factory.mktemp("export"))

    # builder stage: only what it COPYs, then its pip line into a fresh virtualenv.
    context = tmp_path_factory.mktemp("bff-build")
    for args in builder.all("COPY"):
        sources, dest = copy_sources(args)
        for src in sources:
            target = context / dest
            if (export / src).is_dir():
                shutil.copytree(export / src, target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(export / src, target)
    (install,) = [r for r in builder.all("RUN") if "/opt/venv/bin/pip install" in r]
    venv = tmp_path_factory.mktemp("bff-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for step in install.split("&&"):  # the locked requirements, then the local packages
        if "/opt/venv/bin/pip install" not in step:
            continue
        pip_args = shlex.split(step.split("/opt/venv/bin/pip install", 1)[1])
        pip_args = [a for a in pip_args if a != "--no-cache-dir"]  # reuse the local pip cache
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *pip_args],
            cwd=context,
            check=True,
            timeout=300,
        )

    # runtime stage: WORKDIR with only the files it COPYs from the build context.
    app_dir = tmp_path_factory.mktemp("bff-app")
    for args in runtime.all("COPY"):
        if "--from=" in args:
            continue
        sources, dest = copy_sources(args)
        for src in sources:
            (app_dir / dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(export / src, app_dir / dest)
    return BffImage(venv, app_dir, runtime, tmp_path_factory.mktemp("bff-spool"))


def test_bff_image_has_runtime_dependencies_only(bff_image: BffImage) -> None:
    python = str(bff_image.venv / "bin" / "python")
    probe = (
        "import importlib.util, json, sys; "
        f"print(json.dumps({{m: importlib.util.find_spec(m) is not None for m in {DEV_ONLY!r}}}))"
    )
    found = json.loads(
        subprocess.run(
            [python, "-c", probe], check=True, capture_output=True, text=True, cwd=bff_image.app_dir
        ).stdout
    )
    assert not any(found.values()), f"dev-only packages in the image: {found}"
    where = subprocess.run(
        [python, "-c", "import bff, logship; print(bff.__file__); print(logship.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=bff_image.app_dir,
    ).stdout.split()
    assert all(path.startswith(str(bff_image.venv)) for path in where), where


def test_bff_image_command_serves_healthz_and_stops_on_sigterm(
    bff_image: BffImage, bff_env: dict[str, str], log_dir: Path
) -> None:
    runtime = bff_image.runtime
    assert runtime.one("USER") != "root" and runtime.one("STOPSIGNAL") == "SIGTERM"
    assert runtime.one("EXPOSE") == "8080" and runtime.env()["BFF_BIND"] == "0.0.0.0:8080"
    argv = runtime.exec_form("CMD")
    assert argv == ["gunicorn", "-c", "bff/gunicorn.conf.py", "bff:create_app()"]
    port = free_port()
    upstreams = {k: v for k, v in bff_env.items() if k.startswith("BFF_UPSTREAM_")}
    # The one change from the image: loopback instead of 0.0.0.0 (servers here stay local).
    env = bff_image.env(BFF_BIND=f"127.0.0.1:{port}", **upstreams)
    svc = start("bff-image", argv, port, log_dir, env, cwd=bff_image.app_dir)
    try:
        status, _, body = fetch(f"{svc.url}/healthz")
        assert status == 200, body
        health = subprocess.run(runtime.exec_form("HEALTHCHECK"), env=env, timeout=10, check=False)
        assert health.returncode == 0
    finally:
        code = svc.stop()
    assert code == 0, svc.log()
    assert not svc.crashes(), svc.crashes()


def run_bff_image(bff_image: BffImage, drop: str, override: dict[str, str]) -> tuple[int, str, str]:
    settings = {
        "BFF_BIND": f"127.0.0.1:{free_port()}",
        "BFF_UPSTREAM_CATALOG_URL": "http://127.0.0.1:9",
        "BFF_UPSTREAM_ORDERS_URL": "http://127.0.0.1:9",
    }
    env = bff_image.env(**{**settings, **override})
    env.pop(drop, None)
    result = subprocess.run(
        bff_image.runtime.exec_form("CMD"),
        env=env,
        cwd=bff_image.app_dir,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("drop", "override", "named"),
    [
        ("BFF_UPSTREAM_ORDERS_URL", {}, "BFF_UPSTREAM_ORDERS_URL"),
        ("BFF_UPSTREAM_CATALOG_URL", {}, "BFF_UPSTREAM_CATALOG_URL"),
        ("", {"BFF_UPSTREAM_CATALOG_URL": "ftp://catalog"}, "BFF_UPSTREAM_CATALOG_URL"),
        ("", {"BFF_CIRCUIT_FAILURES": "lots"}, "BFF_CIRCUIT_FAILURES"),
    ],
)
def test_bff_image_refuses_bad_configuration_with_one_line(
    bff_image: BffImage, drop: str, override: dict[str, str], named: str
) -> None:
    code, _, stderr = run_bff_image(bff_image, drop, override)
    lines = stderr.strip().splitlines()
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("bff: configuration error: ") and named in lines[0], lines


@pytest.mark.parametrize(
    ("drop", "override"),
    [("BFF_UPSTREAM_ORDERS_URL", {}), ("", {"BFF_WORKERS": "lots"})],
)
def test_bff_image_bad_configuration_is_its_only_output(
    bff_image: BffImage, drop: str, override: dict[str, str]
) -> None:
    code, stdout, stderr = run_bff_image(bff_image, drop, override)
    lines = (stdout + stderr).strip().splitlines()
    assert code == 2 and len(lines) == 1, lines


# --- the web image's runner stage -------------------------------------------------------------


@pytest.fixture(scope="module")
def web_image(web_build: WebBuild) -> tuple[Path, Stage]:
    """The session's production build (laid out as the image) plus the runner's own files."""
    standalone = web_build.root
    runner = read_dockerfile(ROOT / "Dockerfile.web")[-1]
    assert runner.name == "runner"
    for args in runner.all("COPY"):
        if "--from=" in args:
            continue  # the build output: the `web_build` fixture has laid it out already
        sources, dest = copy_sources(args)
        for src in sources:
            shutil.copy2(ROOT / src, standalone / dest)
    return standalone, runner


def web_env(runner: Stage, **overrides: str) -> dict[str, str]:
    return {**runner.env(), **overrides}


@pytest.fixture(scope="module")
def web_container(
    web_image: tuple[Path, Stage], bff: Service, log_dir: Path
) -> Iterator[tuple[Service, dict[str, str]]]:
    app_dir, runner = web_image
    port = free_port()
    env = web_env(runner, BFF_URL=bff.url, HOSTNAME="127.0.0.1", PORT=str(port))
    svc = start("web-image", runner.exec_form("CMD"), port, log_dir, env, health="/", cwd=app_dir)
    yield svc, env
    svc.stop()


def test_web_image_serves_the_site(
    web_image: tuple[Path, Stage], web_container: tuple[Service, dict[str, str]]
) -> None:
    _, runner = web_image
    env = runner.env()
    assert env["HOSTNAME"] == "0.0.0.0" and env["NODE_ENV"] == "production"
    assert env["PORT"] == "3000" and "BFF_URL" not in env  # read at run time, never baked in
    assert runner.one("USER") != "root"
    svc, run_env = web_container
    status, headers, _ = fetch(f"{svc.url}/")
    assert status == 200 and "text/html" in headers["content-type"]
    health = subprocess.run(runner.exec_form("HEALTHCHECK"), env=run_env, timeout=10, check=False)
    assert health.returncode == 0
    assert "BFF_ARG" not in (ROOT / "Dockerfile.web").read_text()
    assert not re.search(r"^\s*ARG\s+BFF_URL", (ROOT / "Dockerfile.web").read_text(), re.M)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "BFF_URL is required"),
        ("", "BFF_URL is required"),
        ("bff:8080", "BFF_URL must"),
        ("ftp://bff", "BFF_URL must use http or https"),
        ("http://u:p@bff", "BFF_URL must not contain credentials"),
    ],
)
def test_web_image_refuses_bad_bff_url_with_one_line(
    web_image: tuple[Path, Stage], value: str | None, message: str
) -> None:
    app_dir, runner = web_image
    env = web_env(runner, HOSTNAME="127.0.0.1", PORT=str(free_port()), PATH=os.environ["PATH"])
    if value is not None:
        env["BFF_URL"] = value
    result = subprocess.run(
        runner.exec_form("CMD"),
        env=env,
        cwd=app_dir,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("web: configuration error: "), lines
    assert message in lines[0]


# --- docker-compose.yml -----------------------------------------------------------------------

COMPOSE_SCHEMA = ROOT / "deploy" / "compose-spec.json"
DEV_PORTS = {"web": 3000, "bff": 8080, "django": 8001, "fastapi": 8002, "logs": 4566}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(doc, dict)
    return doc


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    # The vendored file names its draft with an http URL jsonschema does not know: say it here.
    validator = jsonschema.Draft201909Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, errors
    # The schema is strict: an unknown key is an error.
    broken = json.loads(json.dumps(compose))
    broken["services"]["bff"]["helthcheck"] = {}
    assert not validator.is_valid(broken)


def test_compose_services_wait_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"web", "bff", "django", "fastapi", "redis", "logs"}
    for name, svc in services.items():
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for dep, how in svc.get("depends_on", {}).items():
            assert dep in services, (name, dep)
            assert how == {"condition": "service_healthy"}, (name, dep, how)
            assert services[dep].get("healthcheck"), f"{name} waits on {dep} without a check"


def test_compose_ports_and_variables(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name, port in DEV_PORTS.items():
        env = "DEV_LOGS_PORT" if name == "logs" else f"DEV_{name.upper()}_PORT"
        assert compose["services"][name]["ports"] == [f"127.0.0.1:${{{env}:-{port}}}:{port}"]
    # Every variable taken from .env either has a default or stops compose with a message.
    references = re.findall(r"\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}", text)
    assert references
    for name, rest in references:
        assert rest.startswith((":-", ":?")), f"${{{name}}} has neither a default nor :?"
    required = {name for name, rest in references if rest.startswith(":?")}
    assert required == {"DJANGO_SECRET_KEY"}
    # Every variable the file reads is documented in .env.example.
    documented = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    undocumented = (
        {name for name, _ in references} - documented - {"DEV_LOGS_PORT", "DEV_REDIS_PORT"}
    )
    assert not undocumented, undocumented
    bff = compose["services"]["bff"]["environment"]
    assert bff["BFF_BIND"] == "0.0.0.0:8080"
    assert bff["BFF_UPSTREAM_CATALOG_URL"] == "http://django:8001"
    assert compose["services"]["web"]["environment"]["HOSTNAME"] == "0.0.0.0"
    assert compose["services"]["redis"]["image"] == "redis:7-alpine"


def test_emulator_image_pins_the_same_moto_as_the_tests() -> None:
    def moto_pin(lock: str) -> str:
        found = re.search(r"^moto(?:\[server\])?==(\S+)", (ROOT / lock).read_text(), re.M)
        assert found, lock
        return found.group(1)

    assert moto_pin("requirements/emulator.txt") == moto_pin("requirements/dev.txt")
    dockerfile = (ROOT / "deploy/emulator.Dockerfile").read_text()
    assert "--require-hashes -r /tmp/emulator.txt" in dockerfile


def test_docker_compose_config_needs_the_compose_plugin() -> None:
    """Record why the schema stands in for `docker compose config` on this machine."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client")
    result = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, check=False, timeout=30
    )
    if result.returncode != 0:
        pytest.skip(f"docker compose unavailable: {result.stderr.strip()[:120]}")
    config = subprocess.run(
        [docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "DJANGO_SECRET_KEY": "x" * 50},
    )
    assert config.returncode == 0, config.stderr
