"""The hand-written OpenAPI document against the real views: valid, and true of every response."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from catalog import openapi, validation, views

pytestmark = pytest.mark.django_db

DOC_URI = "urn:catalog-openapi"


def test_document_is_valid_openapi_3_1() -> None:
    validate(openapi.build_document())


def test_documented_limits_match_the_views() -> None:
    assert openapi.QUERY_LIMITS["page"] == (1, views.MAX_PAGE)
    assert openapi.QUERY_LIMITS["page_size"] == (1, views.MAX_PAGE_SIZE)
    assert openapi.QUERY_MAX_LENGTH == views.MAX_QUERY_LENGTH
    create = openapi.DOCUMENT["components"]["schemas"]["ItemCreate"]
    assert set(create["properties"]) == validation.ALLOWED_FIELDS
    assert create["properties"]["name"]["maxLength"] == validation.NAME_MAX_LENGTH
    assert create["properties"]["description"]["maxLength"] == validation.DESCRIPTION_MAX_LENGTH
    assert create["properties"]["stock"]["maximum"] == validation.MAX_STOCK


def _operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The documented path template and operation that serve ``method path``."""
    for template, item in openapi.DOCUMENT["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not documented")


def assert_documented(method: str, path: str, response: Any) -> Any:
    """The response's status and media type are documented and its body fits the schema."""
    template, operation = _operation(method, path)
    responses = operation["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method} {template} answered undocumented {status}"
    media_type = response["Content-Type"].split(";")[0]
    content = responses[status]["content"]
    assert media_type in content, f"{method} {template} {status}: {media_type} not documented"
    body = json.loads(response.content)
    registry = Registry().with_resource(
        DOC_URI, Resource.from_contents(openapi.DOCUMENT, default_specification=DRAFT202012)
    )
    schema = content[media_type]["schema"]
    ref = schema["$ref"] if "$ref" in schema else None
    assert ref is not None
    validator = Draft202012Validator({"$ref": f"{DOC_URI}{ref}"}, registry=registry)
    errors = [error.message for error in validator.iter_errors(body)]
    assert not errors, f"{method} {template} {status}: {errors}"
    return body


def post_json(client: Client, path: str, payload: Any) -> Any:
    return client.post(path, data=json.dumps(payload), content_type="application/json")


@pytest.mark.parametrize(
    "query",
    ["", "?page=2&page_size=5", "?q=coffee", "?q=zzz-nothing", "?page=99"],
    ids=["defaults", "page-2", "search", "no-match", "past-the-end"],
)
def test_list_responses_fit_the_schema(api: Client, seeded: None, query: str) -> None:
    body = assert_documented("GET", "/catalog/items", api.get(f"/catalog/items{query}"))
    assert isinstance(body["items"], list)


@pytest.mark.parametrize(
    "query", ["?page=0", "?page_size=101", "?page=x", "?q=" + "a" * 201], ids=str
)
def test_list_rejections_fit_the_schema(api: Client, query: str) -> None:
    body = assert_documented("GET", "/catalog/items", api.get(f"/catalog/items{query}"))
    assert body["status"] == 400


def test_detail_and_missing_item_fit_the_schema(api: Client, seeded: None) -> None:
    assert assert_documented("GET", "/catalog/items/1", api.get("/catalog/items/1"))["id"] == 1
    missing = assert_documented("GET", "/catalog/items/999999", api.get("/catalog/items/999999"))
    assert missing["status"] == 404


def test_create_and_its_failures_fit_the_schema(api: Client, seeded: None) -> None:
    payload = {"name": "Schema Mug", "price": "9.50", "stock": 3}
    created = assert_documented("POST", "/catalog/items", post_json(api, "/catalog/items", payload))
    assert created["slug"] == "schema-mug"
    conflict = post_json(api, "/catalog/items", payload)
    assert assert_documented("POST", "/catalog/items", conflict)["status"] == 409
    invalid = post_json(api, "/catalog/items", {"name": "", "price": "-1", "extra": 1})
    problem = assert_documented("POST", "/catalog/items", invalid)
    assert {e["field"] for e in problem["errors"]} == {"name", "price", "extra"}
    wrong_type = api.post("/catalog/items", data="name=x", content_type="text/plain")
    assert assert_documented("POST", "/catalog/items", wrong_type)["status"] == 415
    garbage = api.post("/catalog/items", data="{", content_type="application/json")
    assert assert_documented("POST", "/catalog/items", garbage)["status"] == 400


def test_health_fits_the_schema(api: Client) -> None:
    assert assert_documented("GET", "/healthz", api.get("/healthz")) == {"status": "ok"}
