"""The sample-services plugin: its launcher finds the runners and keeps the environment
hermetic (the services themselves are exercised by the upstreams' suites)."""

from __future__ import annotations

import pytest
from testkit.sample_services import RUNNERS, repo_root, sample_env


def test_repo_root_holds_both_runners() -> None:
    root = repo_root()
    assert all((root / runner).is_file() for runner in RUNNERS.values())


def test_sample_env_drops_inherited_logging_and_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_CLOUDWATCH_GROUP", "/from/the/shell")
    monkeypatch.setenv("AWS_PROFILE", "someone")
    monkeypatch.setenv("UPSTREAM_TEST_ENDPOINTS", "0")
    env = sample_env({"LOG_CLOUDWATCH_GROUP": "/test/given"})
    assert env["LOG_CLOUDWATCH_GROUP"] == "/test/given"
    assert "AWS_PROFILE" not in env
    assert "UPSTREAM_TEST_ENDPOINTS" not in env
    assert env["PATH"]
