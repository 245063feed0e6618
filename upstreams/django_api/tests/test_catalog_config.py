"""Settings helpers and the runner's gunicorn command line."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.core.exceptions import ImproperlyConfigured

from catalog_project import settings as project_settings
from catalog_project.config import CatalogSettings

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
def test_boolean_variables(raw: str, expected: bool) -> None:
    settings = CatalogSettings.from_env({"DJANGO_DEBUG": raw, "UPSTREAM_TEST_ENDPOINTS": raw})
    assert settings.debug is expected and settings.test_endpoints is expected


def test_boolean_default_and_invalid() -> None:
    assert CatalogSettings.from_env({}).test_endpoints is True
    assert CatalogSettings.from_env({}).debug is False
    with pytest.raises(ImproperlyConfigured, match="^DJANGO_DEBUG must be true or false"):
        CatalogSettings.from_env({"DJANGO_DEBUG": "maybe"}, ImproperlyConfigured)


def test_host_list() -> None:
    settings = CatalogSettings.from_env({"DJANGO_ALLOWED_HOSTS": " a.example , ,b.example"})
    assert settings.allowed_hosts == ("a.example", "b.example")


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
