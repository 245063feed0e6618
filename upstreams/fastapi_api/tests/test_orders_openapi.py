"""The served OpenAPI document is valid and describes the responses the service really sends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

pytestmark = pytest.mark.anyio

DOC_URI = "urn:orders-openapi"


async def fetch_document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def assert_documented(
    document: dict[str, Any], method: str, template: str, response: httpx.Response
) -> Any:
    """Status and media type are documented for the operation, and the body fits the schema."""
    operation = document["paths"][template][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {template}: undocumented {status}"
    media_type = response.headers["content-type"].split(";")[0]
    content = operation["responses"][status]["content"]
    assert media_type in content, f"{method} {template} {status}: {media_type} not documented"
    registry = Registry().with_resource(
        DOC_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    ref = content[media_type]["schema"]["$ref"]
    validator = Draft202012Validator({"$ref": f"{DOC_URI}{ref}"}, registry=registry)
    body = response.json()
    errors = [error.message for error in validator.iter_errors(body)]
    assert not errors, f"{method} {template} {status}: {errors}"
    return body


async def test_document_is_valid_and_has_no_phantom_validation_errors(
    client: httpx.AsyncClient,
) -> None:
    document = await fetch_document(client)
    validate(document)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path_item in document["paths"].values():
        for operation in path_item.values():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"]


async def test_order_responses_fit_the_document(client: httpx.AsyncClient) -> None:
    document = await fetch_document(client)
    payload = {"items": [{"item_id": 1, "quantity": 1}], "customer_email": "ada@example.com"}
    created = assert_documented(
        document, "POST", "/orders", await client.post("/orders", json=payload)
    )
    fetched = await client.get(f"/orders/{created['id']}")
    assert assert_documented(document, "GET", "/orders/{order_id}", fetched) == created
    invalid = await client.post("/orders", json={"items": [], "customer_email": "nope"})
    problem = assert_documented(document, "POST", "/orders", invalid)
    assert {e["field"] for e in problem["errors"]} == {"items", "customer_email"}
    short = {"items": [{"item_id": 2, "quantity": 99}], "customer_email": "ada@example.com"}
    assert_documented(document, "POST", "/orders", await client.post("/orders", json=short))
    missing = await client.get("/orders/424242")
    assert assert_documented(document, "GET", "/orders/{order_id}", missing)["status"] == 404
    bad_id = await client.get("/orders/0")
    assert assert_documented(document, "GET", "/orders/{order_id}", bad_id)["status"] == 400
    listed = await client.get("/orders?limit=5")
    assert assert_documented(document, "GET", "/orders", listed)["total"] >= 1
