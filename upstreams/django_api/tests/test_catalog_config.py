"""Settings helpers and the runner's gunicorn command line."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.core.exceptions import ImproperlyConfigured

from catalog_project import settings as project_settings

SERVICE_DIR = Path(__file__).resolve().parent.parent


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("catalog_run", SERVICE_DIR / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("catalog_run", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False), ("off", False)],
)
def test_env_bool(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("CATALOG_TEST_FLAG", raw)
    assert project_settings._env_bool("CATALOG_TEST_FLAG", not expected) is expected


def test_env_bool_default_and_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CATALOG_TEST_FLAG", raising=False)
    assert project_settings._env_bool("CATALOG_TEST_FLAG", True) is True
    monkeypatch.setenv("CATALOG_TEST_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured):
        project_settings._env_bool("CATALOG_TEST_FLAG", True)


def test_env_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOG_TEST_HOSTS", " a.example , ,b.example")
    assert project_settings._env_list("CATALOG_TEST_HOSTS", "") == ["a.example", "b.example"]


def test_defaults() -> None:
    assert project_settings.APPEND_SLASH is False
    assert project_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"


def test_runner_gunicorn_command() -> None:
    runner = load_runner()
    args = runner.parse_args(["--port", "9123", "--workers", "3", "--threads", "4"])
    argv = runner.gunicorn_argv(args)
    assert argv[:4] == [sys.executable, "-m", "gunicorn", "catalog_project.wsgi:application"]
    joined = " ".join(argv)
    assert f"--chdir {SERVICE_DIR}" in joined
    assert "--bind 127.0.0.1:9123" in joined
    assert "--worker-class gthread" in joined
    assert "--workers 3" in joined
    assert "--threads 4" in joined
    assert "--graceful-timeout" in joined
    assert "--access-logfile" not in joined
