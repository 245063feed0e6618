"""logship.remote: one PutLogEvents call classified, and group/stream creation, against a
recording client (each case is one answer CloudWatch gives)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError
from logship.batching import Event
from logship.remote import (
    Outcome,
    create_stream,
    ensure_group,
    make_client,
    prepare_put,
    put_events,
    send_put,
)


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


class _Raw:
    """The raw stream of a canned answer."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_kwargs: Any) -> Any:
        yield self.data


def test_a_real_client_sends_every_event_in_the_body_serialised_here() -> None:
    """botocore builds and signs the request; the body carries every event, once, in order."""
    client = make_client(
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    sent: list[bytes] = []

    def answer(request: Any, **_kwargs: Any) -> AWSResponse:
        sent.append(request.body)
        assert request.headers["Content-Length"] == str(len(request.body))
        assert b"Signature=" in request.headers["Authorization"]
        return AWSResponse(request.url, 200, {}, _Raw(b"{}"))

    client.meta.events.register("before-send.cloudwatch-logs.PutLogEvents", answer)
    texts = ["plain", "caf\u00e9 \u2603", 'quote " and \\ backslash', "nul \x00 byte", "x" * 5000]
    batch = [
        Event(1_700_000_000_000 + i, logging.INFO, t, len(t.encode()), i)
        for i, t in enumerate(texts)
    ]
    try:
        outcome, _ = put_events(client, "/g", "s", batch)
        # a message orjson cannot encode (a lone surrogate) goes through botocore's serializer
        odd = [Event(1_700_000_000_000, logging.INFO, "lone \ud800", 9, 1)]
        fallback, _ = put_events(client, "/g", "s", odd)
    finally:
        client.close()
    assert outcome is Outcome.SENT and fallback is Outcome.SENT
    body = json.loads(sent[0])
    assert body["logGroupName"] == "/g" and body["logStreamName"] == "s"
    assert [e["message"] for e in body["logEvents"]] == texts
    assert [e["timestamp"] for e in body["logEvents"]] == [e.timestamp for e in batch]
    assert len(json.loads(sent[1])["logEvents"]) == 1


def test_a_prepared_request_sends_every_event_on_every_try() -> None:
    """A batch is serialised once; each try (a retry after a 5xx) sends the full body."""
    client = make_client(
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    sent: list[bytes] = []

    def answer(request: Any, **_kwargs: Any) -> AWSResponse:
        sent.append(request.body)
        status = 503 if len(sent) == 1 else 200
        return AWSResponse(request.url, status, {}, _Raw(b"{}"))

    client.meta.events.register("before-send.cloudwatch-logs.PutLogEvents", answer)
    request = prepare_put(client, "/g", "s", EVENTS)
    try:
        outcomes = [send_put(client, request)[0] for _ in range(2)]
    finally:
        client.close()
    assert outcomes == [Outcome.RETRY, Outcome.SENT]
    assert sent[0] == sent[1] == request.body
    assert [e["message"] for e in json.loads(sent[1])["logEvents"]] == [e.message for e in EVENTS]
