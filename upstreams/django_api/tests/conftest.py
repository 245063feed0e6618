from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

# The live servers (run.py under gunicorn), the CloudWatch emulator and log groups.
pytest_plugins = ["testkit.sample_services"]

ProblemChecker = Callable[..., dict[str, Any]]


@pytest.fixture
def seeded(db: None) -> None:
    call_command("seed", verbosity=0)


@pytest.fixture
def api(client: Client) -> Client:
    """The Django test client (exceptions in views are re-raised)."""
    return client


@pytest.fixture
def assert_problem() -> ProblemChecker:
    """Return a checker that validates an RFC 9457 problem response and returns its body."""

    def check(response: Any, status: int, *, instance: str | None = None) -> dict[str, Any]:
        assert response.status_code == status
        assert response["Content-Type"] == "application/problem+json"
        body: dict[str, Any] = json.loads(response.content)
        assert body["type"] == "about:blank"
        assert body["status"] == status
        assert isinstance(body["title"], str) and body["title"]
        assert isinstance(body["detail"], str) and body["detail"]
        if instance is not None:
            assert body["instance"] == instance
        return body

    return check
