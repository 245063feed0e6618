from __future__ import annotations

import re
import string

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from catalog.middleware import RequestIdMiddleware, normalise_request_id

GENERATED_ID = re.compile(r"[0-9a-f]{32}")
SAFE_ALPHABET = string.ascii_letters + string.digits + "._-"


def test_incoming_request_id_is_returned(api: Client) -> None:
    response = api.get("/catalog/_test/echo", HTTP_X_REQUEST_ID="abc.DEF_123-x")
    assert response["X-Request-ID"] == "abc.DEF_123-x"


def test_request_id_is_generated_when_missing(api: Client) -> None:
    first = api.get("/catalog/_test/echo")["X-Request-ID"]
    second = api.get("/catalog/_test/echo")["X-Request-ID"]
    assert GENERATED_ID.fullmatch(first)
    assert GENERATED_ID.fullmatch(second)
    assert first != second


@pytest.mark.parametrize("value", ["", "has space", "x" * 129, "semi;colon", "ünïcode", "a/b"])
def test_invalid_request_id_is_replaced(api: Client, value: str) -> None:
    response = api.get("/catalog/_test/echo", HTTP_X_REQUEST_ID=value)
    assert GENERATED_ID.fullmatch(response["X-Request-ID"])


def test_request_id_on_error_responses(api: Client) -> None:
    assert api.get("/nope", HTTP_X_REQUEST_ID="r-404")["X-Request-ID"] == "r-404"
    assert api.delete("/catalog/items", HTTP_X_REQUEST_ID="r-405")["X-Request-ID"] == "r-405"


def test_request_id_on_streaming_response(api: Client) -> None:
    response = api.get("/catalog/_test/stream?chunks=1", HTTP_X_REQUEST_ID="r-stream")
    assert response["X-Request-ID"] == "r-stream"


def test_request_id_is_stored_on_the_request() -> None:
    seen: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request.request_id)
        return HttpResponse("ok")

    middleware = RequestIdMiddleware(view)
    response = middleware(RequestFactory().get("/", HTTP_X_REQUEST_ID="trace-1"))
    assert seen == ["trace-1"]
    assert response["X-Request-ID"] == "trace-1"


@given(st.text(alphabet=SAFE_ALPHABET, min_size=1, max_size=128))
def test_valid_ids_are_kept(value: str) -> None:
    assert normalise_request_id(value) == value


@given(st.text(max_size=300))
def test_normalised_id_is_always_safe(value: str) -> None:
    result = normalise_request_id(value)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", result)
    assert result == value or GENERATED_ID.fullmatch(result)
