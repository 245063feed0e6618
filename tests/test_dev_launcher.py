"""`make dev`'s launcher: every part is wired to the others and to the local log emulator."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from .procs import ROOT


@pytest.fixture(scope="module")
def dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_launcher", ROOT / "scripts" / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_every_python_service_ships_logs_to_the_emulator(dev: ModuleType) -> None:
    parts = {p.name: p for p in dev.stack()}
    assert list(parts) == ["logs", "django", "fastapi", "bff", "web"]
    emulator = f"http://127.0.0.1:{parts['logs'].port}"
    for name, service in (("django", "catalog"), ("fastapi", "orders"), ("bff", "bff")):
        env = parts[name].env
        assert env["LOG_CLOUDWATCH_ENDPOINT"] == emulator, name
        assert env["LOG_CLOUDWATCH_GROUP"] and env["LOG_CLOUDWATCH_CREATE_GROUP"] == "1", name
        assert env["LOG_SERVICE"] == service
        assert env["AWS_REGION"]


def test_parts_point_at_each_other(dev: ModuleType) -> None:
    parts = {p.name: p for p in dev.stack()}
    bff = parts["bff"].env
    assert bff["BFF_UPSTREAM_CATALOG_URL"].endswith(f":{parts['django'].port}")
    assert bff["BFF_UPSTREAM_ORDERS_URL"].endswith(f":{parts['fastapi'].port}")
    assert parts["fastapi"].env["CATALOG_API_URL"].endswith(f":{parts['django'].port}")
    assert parts["web"].env["BFF_URL"] == f"http://127.0.0.1:{parts['bff'].port}"
