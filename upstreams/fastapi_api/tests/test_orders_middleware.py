from __future__ import annotations

import re
import string

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from orders_service.request_id import RequestIdMiddleware, normalise_request_id

GENERATED_ID = re.compile(r"[0-9a-f]{32}")
SAFE_ALPHABET = string.ascii_letters + string.digits + "._-"


@pytest.mark.anyio
async def test_incoming_request_id_is_returned(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc.DEF_123-x"})
    assert response.headers["x-request-id"] == "abc.DEF_123-x"


@pytest.mark.anyio
async def test_request_id_is_generated_when_missing(client: httpx.AsyncClient) -> None:
    first = (await client.get("/healthz")).headers["x-request-id"]
    second = (await client.get("/healthz")).headers["x-request-id"]
    assert GENERATED_ID.fullmatch(first)
    assert GENERATED_ID.fullmatch(second)
    assert first != second


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["", "has space", "x" * 129, "semi;colon", "a/b"])
async def test_invalid_request_id_is_replaced(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": value})
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


@pytest.mark.anyio
async def test_request_id_on_errors_and_streams(client: httpx.AsyncClient) -> None:
    headers = {"X-Request-ID": "r-1"}
    for response in [
        await client.get("/nope", headers=headers),
        await client.delete("/orders", headers=headers),
        await client.post("/orders", json={}, headers=headers),
        await client.get("/orders/_test/stream?chunks=1", headers=headers),
    ]:
        assert response.headers.get_list("x-request-id") == ["r-1"]


@pytest.mark.anyio
async def test_middleware_replaces_app_supplied_header_and_sets_state() -> None:
    seen: dict[str, object] = {}

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen["state"] = dict(scope["state"])
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"x-request-id", b"from-app"), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"x-request-id", b"client-id")],
    }
    await RequestIdMiddleware(inner)(scope, receive, send)
    assert seen["state"] == {"request_id": "client-id"}
    assert sent[0]["headers"] == [(b"content-length", b"0"), (b"x-request-id", b"client-id")]


@given(st.text(alphabet=SAFE_ALPHABET, min_size=1, max_size=128))
def test_valid_ids_are_kept(value: str) -> None:
    assert normalise_request_id(value) == value


@given(st.text(max_size=300))
def test_normalised_id_is_always_safe(value: str) -> None:
    result = normalise_request_id(value)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", result)
    assert result == value or GENERATED_ID.fullmatch(result)
