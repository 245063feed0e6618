"""logship.remote: one PutLogEvents call classified, and group/stream creation, against a
recording client (each case is one answer CloudWatch gives)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from logship.batching import Event
from logship.remote import Outcome, create_stream, ensure_group, put_events


def client_error(code: str, operation: str = "PutLogEvents") -> ClientError:
    """What botocore raises for an error answer with ``code``."""
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class RecordingClient:
    """Answers each call with the next scripted answer (an exception or a response) and
    records the calls."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, name: str, kwargs: dict[str, Any]) -> Any:
        self.calls.append((name, kwargs))
        answer = self.answers.pop(0) if self.answers else {}
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def put_log_events(self, **kwargs: Any) -> Any:
        return self._answer("put_log_events", kwargs)

    def create_log_stream(self, **kwargs: Any) -> Any:
        return self._answer("create_log_stream", kwargs)

    def create_log_group(self, **kwargs: Any) -> Any:
        return self._answer("create_log_group", kwargs)

    def put_retention_policy(self, **kwargs: Any) -> Any:
        return self._answer("put_retention_policy", kwargs)

    def get_paginator(self, name: str) -> Any:
        client = self

        class Paginator:
            def paginate(self, **kwargs: Any) -> Any:
                page = client._answer(name, kwargs)
                return [page]

        return Paginator()


EVENTS = [Event(1_700_000_000_000 + i, logging.INFO, f"m{i}", 2, i + 1) for i in range(3)]


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        pytest.param({"nextSequenceToken": "1"}, Outcome.SENT, id="accepted"),
        pytest.param(client_error("DataAlreadyAcceptedException"), Outcome.SENT, id="already"),
        pytest.param(client_error("ThrottlingException"), Outcome.THROTTLED, id="throttled"),
        pytest.param(client_error("ServiceUnavailableException"), Outcome.RETRY, id="5xx"),
        pytest.param(client_error("InvalidParameterException"), Outcome.DROP, id="invalid"),
        pytest.param(client_error("ResourceNotFoundException"), Outcome.MISSING, id="missing"),
        pytest.param(EndpointConnectionError(endpoint_url="http://x"), Outcome.RETRY, id="conn"),
        pytest.param(RuntimeError("reset"), Outcome.RETRY, id="other"),
    ],
)
def test_put_events_outcome(answer: object, outcome: Outcome) -> None:
    client = RecordingClient(answer)
    got, _detail = put_events(client, "/g", "s", EVENTS)  # type: ignore[arg-type]
    assert got is outcome
    name, kwargs = client.calls[0]
    assert name == "put_log_events"
    assert kwargs["logEvents"] == [{"timestamp": e.timestamp, "message": e.message} for e in EVENTS]


def test_ensure_group_creates_a_missing_group_and_sets_retention() -> None:
    client = RecordingClient({"logGroups": [{"logGroupName": "/g-other"}]}, {}, {})
    ensure_group(client, "/g", 7)  # type: ignore[arg-type]
    assert [name for name, _ in client.calls] == [
        "describe_log_groups",
        "create_log_group",
        "put_retention_policy",
    ]


def test_ensure_group_leaves_an_existing_group_and_a_concurrent_creation() -> None:
    client = RecordingClient({"logGroups": [{"logGroupName": "/g"}]})
    ensure_group(client, "/g", None)  # type: ignore[arg-type]
    assert [name for name, _ in client.calls] == ["describe_log_groups"]
    racing = RecordingClient({"logGroups": []}, client_error("ResourceAlreadyExistsException"))
    ensure_group(racing, "/g", None)  # type: ignore[arg-type]


def test_create_stream_creates_the_group_when_missing_then_retries() -> None:
    client = RecordingClient(client_error("ResourceNotFoundException", "CreateLogStream"), {})
    groups: list[str] = []
    create_stream(client, "/g", "s", create_group=lambda: groups.append("/g"))  # type: ignore[arg-type]
    assert groups == ["/g"]
    assert [name for name, _ in client.calls] == ["create_log_stream", "create_log_stream"]


def test_create_stream_never_raises() -> None:
    errors: list[Exception] = []
    client = RecordingClient(client_error("ResourceAlreadyExistsException", "CreateLogStream"))
    create_stream(client, "/g", "s", on_error=errors.append)  # type: ignore[arg-type]
    failing = RecordingClient(ValueError("bug"))
    create_stream(failing, "/g", "s", on_error=errors.append)  # type: ignore[arg-type]
    assert [type(e) for e in errors] == [ValueError]
