"""OpenAPI 3.1 description of the catalog API, written by hand.

Django has no schema generator here, so this document is the contract. It imports nothing from
Django (the BFF's snapshot script reads it without configuring Django); the catalog's tests check
every documented limit against the views and validate real responses against these schemas.
"""

from __future__ import annotations

import copy
from typing import Any

PROBLEM_MEDIA_TYPE = "application/problem+json"

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_ITEM_REF = {"$ref": "#/components/schemas/Item"}

_PROBLEM_DESCRIPTIONS = {
    400: "Invalid query parameters or malformed JSON",
    404: "No such item",
    409: "The slug is already in use",
    413: "Request body too large",
    415: "The body is not sent as application/json",
    422: "The body failed validation; `errors` lists each field",
}


def _problems(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {
            "description": _PROBLEM_DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}},
        }
        for status in statuses
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_SCHEMAS: dict[str, Any] = {
    "Item": {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "slug": {"type": "string", "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$", "maxLength": 200},
            "description": {"type": "string", "maxLength": 5000},
            "price": {
                "type": "string",
                "pattern": "^[0-9]{1,8}\\.[0-9]{2}$",
                "description": 'Decimal string with two places, e.g. "12.50"',
            },
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217"},
            "stock": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
            "created_at": {"type": "string", "format": "date-time"},
        },
        "required": [
            "id",
            "name",
            "slug",
            "description",
            "price",
            "currency",
            "stock",
            "created_at",
        ],
        "additionalProperties": False,
    },
    "ItemPage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": _ITEM_REF, "maxItems": 100},
            "page": {"type": "integer", "minimum": 1},
            "page_size": {"type": "integer", "minimum": 1, "maximum": 100},
            "total": {"type": "integer", "minimum": 0},
            "pages": {"type": "integer", "minimum": 0},
        },
        "required": ["items", "page", "page_size", "total", "pages"],
        "additionalProperties": False,
    },
    "ItemCreate": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "slug": {
                "type": "string",
                "maxLength": 200,
                "description": "Derived from the name when omitted",
            },
            "description": {"type": "string", "maxLength": 5000},
            "price": {
                "oneOf": [
                    {"type": "string", "pattern": "^[0-9]{1,8}(?:\\.[0-9]{1,2})?$"},
                    {"type": "number", "minimum": 0, "maximum": 99999999.99},
                ],
                "description": "At most two decimal places",
            },
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "default": "EUR"},
            "stock": {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0},
        },
        "required": ["name", "price"],
        "additionalProperties": False,
    },
    "FieldError": {
        "type": "object",
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
        "required": ["field", "message"],
        "additionalProperties": False,
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
        },
        "required": ["type", "title", "status", "detail", "instance"],
    },
    "Health": {
        "type": "object",
        "properties": {"status": {"const": "ok"}},
        "required": ["status"],
        "additionalProperties": False,
    },
}

QUERY_LIMITS = {"page": (1, 1_000_000), "page_size": (1, 100)}
QUERY_MAX_LENGTH = 200

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Catalog service",
        "version": "1.0.0",
        "description": "Sample upstream: lists, searches and creates catalog items.",
    },
    "paths": {
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "tags": ["health"],
                "summary": "Liveness and database check",
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Health"}, "Healthy"),
                    "503": {
                        "description": "The database does not answer",
                        "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}},
                    },
                },
            }
        },
        "/catalog/items": {
            "get": {
                "operationId": "list_items",
                "tags": ["catalog"],
                "summary": "List or search items, one page at a time",
                "parameters": [
                    {
                        "name": "page",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": QUERY_LIMITS["page"][0],
                            "maximum": QUERY_LIMITS["page"][1],
                            "default": 1,
                        },
                    },
                    {
                        "name": "page_size",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": QUERY_LIMITS["page_size"][0],
                            "maximum": QUERY_LIMITS["page_size"][1],
                            "default": 20,
                        },
                    },
                    {
                        "name": "q",
                        "in": "query",
                        "required": False,
                        "description": "Case-insensitive search in name and description",
                        "schema": {"type": "string", "maxLength": QUERY_MAX_LENGTH},
                    },
                ],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/ItemPage"}, "One page of items"),
                    **_problems(400),
                },
            },
            "post": {
                "operationId": "create_item",
                "tags": ["catalog"],
                "summary": "Create an item",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ItemCreate"}}
                    },
                },
                "responses": {
                    "201": {
                        **_json(_ITEM_REF, "Created"),
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    **_problems(400, 409, 413, 415, 422),
                },
            },
        },
        "/catalog/items/{item_id}": {
            "get": {
                "operationId": "get_item",
                "tags": ["catalog"],
                "summary": "One item",
                "parameters": [
                    {
                        "name": "item_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                    }
                ],
                "responses": {"200": _json(_ITEM_REF, "The item"), **_problems(404)},
            }
        },
    },
    "components": {"schemas": _SCHEMAS},
}


def build_document() -> dict[str, Any]:
    """A fresh copy of the catalog's OpenAPI document."""
    return copy.deepcopy(DOCUMENT)
