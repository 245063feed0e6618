from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import OperationalError
from django.http import Http404
from django.test import Client, RequestFactory, override_settings

from catalog import problems
from catalog.models import Item
from catalog.seed_data import SEED_ITEMS

pytestmark = pytest.mark.django_db

SEED_COUNT = len(SEED_ITEMS)


def post_json(client: Client, path: str, payload: Any) -> Any:
    return client.post(path, data=json.dumps(payload), content_type="application/json")


# --- health ------------------------------------------------------------------------------


def test_healthz_ok(api: Client) -> None:
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_healthz_reports_database_failure(
    api: Client, assert_problem: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalog import views

    class BrokenConnection:
        def cursor(self) -> Any:
            raise OperationalError("unable to open database file")

    monkeypatch.setattr(views, "connection", BrokenConnection())
    body = assert_problem(api.get("/healthz"), 503, instance="/healthz")
    assert body["title"] == "Service Unavailable"


# --- list / search / pagination ----------------------------------------------------------


def test_list_defaults(api: Client, seeded: None) -> None:
    response = api.get("/catalog/items")
    assert response.status_code == 200
    body = response.json()
    assert body["page"] == 1
    assert body["page_size"] == 20
    assert body["total"] == SEED_COUNT
    assert body["pages"] == -(-SEED_COUNT // 20)
    assert len(body["items"]) == 20
    ids = [item["id"] for item in body["items"]]
    assert ids == sorted(ids)
    first = body["items"][0]
    assert set(first) == {
        "id",
        "name",
        "slug",
        "description",
        "price",
        "currency",
        "stock",
        "created_at",
    }
    assert first["slug"] == SEED_ITEMS[0][0]
    assert first["price"] == "12.50"
    assert first["currency"] == "EUR"
    assert first["created_at"].endswith("Z")


def test_pagination_walks_all_items_once(api: Client, seeded: None) -> None:
    seen: list[int] = []
    page = 1
    while True:
        body = api.get("/catalog/items", {"page": page, "page_size": 7}).json()
        assert body["pages"] == -(-SEED_COUNT // 7)
        if not body["items"]:
            break
        seen += [item["id"] for item in body["items"]]
        page += 1
    assert page == body["pages"] + 1
    assert len(seen) == len(set(seen)) == SEED_COUNT


def test_page_beyond_last_is_empty(api: Client, seeded: None) -> None:
    body = api.get("/catalog/items", {"page": 99}).json()
    assert body["items"] == []
    assert body["total"] == SEED_COUNT
    assert body["page"] == 99


def test_page_size_maximum(api: Client, seeded: None) -> None:
    body = api.get("/catalog/items", {"page_size": 100}).json()
    assert len(body["items"]) == SEED_COUNT
    assert body["pages"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "101"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_invalid_list_parameters(
    api: Client, assert_problem: Any, params: dict[str, str], field: str
) -> None:
    body = assert_problem(api.get("/catalog/items", params), 400, instance="/catalog/items")
    assert [error["field"] for error in body["errors"]] == [field]


def test_search_is_case_insensitive_on_name(api: Client, seeded: None) -> None:
    body = api.get("/catalog/items", {"q": "GRINDER"}).json()
    names = {item["name"] for item in body["items"]}
    assert {"Conical Burr Grinder", "Stainless Hand Grinder", "Flat Burr Grinder Pro"} <= names
    assert body["total"] == len(body["items"])
    assert all("grinder" in (item["name"] + item["description"]).lower() for item in body["items"])


def test_search_matches_description(api: Client, seeded: None) -> None:
    body = api.get("/catalog/items", {"q": "jasmine"}).json()
    assert [item["slug"] for item in body["items"]] == ["ethiopia-yirgacheffe-250g"]


def test_search_paginates(api: Client, seeded: None) -> None:
    everything = api.get("/catalog/items", {"q": "coffee", "page_size": 100}).json()
    assert everything["total"] > 2
    page_two = api.get("/catalog/items", {"q": "coffee", "page_size": 2, "page": 2}).json()
    assert page_two["total"] == everything["total"]
    assert page_two["items"] == everything["items"][2:4]


def test_search_without_matches(api: Client, seeded: None) -> None:
    body = api.get("/catalog/items", {"q": "no-such-product"}).json()
    assert body == {"items": [], "page": 1, "page_size": 20, "total": 0, "pages": 0}


# --- detail ------------------------------------------------------------------------------


def test_item_detail(api: Client, seeded: None) -> None:
    item = Item.objects.get(slug="moka-pot-6-cup")
    response = api.get(f"/catalog/items/{item.pk}")
    assert response.status_code == 200
    assert response.json() == item.to_dict()
    assert response.json()["price"] == "29.90"


@pytest.mark.parametrize("item_id", ["999999", "99999999999999999999999999"])
def test_item_detail_not_found(api: Client, assert_problem: Any, item_id: str) -> None:
    path = f"/catalog/items/{item_id}"
    body = assert_problem(api.get(path), 404, instance=path)
    assert body["title"] == "Not Found"


def test_item_detail_head(api: Client, seeded: None) -> None:
    item = Item.objects.first()
    assert item is not None
    response = api.head(f"/catalog/items/{item.pk}")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response["Content-Length"]) == len(json.dumps(item.to_dict()))


# --- create ------------------------------------------------------------------------------


def test_create_item(api: Client) -> None:
    payload = {
        "name": "Espresso Shot Glass",
        "description": "Measured 60 ml glass.",
        "price": "7.5",
        "stock": 12,
    }
    response = post_json(api, "/catalog/items", payload)
    assert response.status_code == 201
    body = response.json()
    assert response["Location"] == f"/catalog/items/{body['id']}"
    assert body["name"] == "Espresso Shot Glass"
    assert body["slug"] == "espresso-shot-glass"
    assert body["price"] == "7.50"
    assert body["currency"] == "EUR"
    assert body["stock"] == 12
    assert api.get(response["Location"]).json() == body


def test_create_item_accepts_json_numbers_exactly(api: Client) -> None:
    payload = {"name": "Filter Holder", "slug": "filter-holder-2", "price": 19.99, "stock": 0}
    body = post_json(api, "/catalog/items", payload).json()
    assert body["price"] == "19.99"
    assert body["slug"] == "filter-holder-2"
    assert post_json(api, "/catalog/items", {"name": "Spoon", "price": 3}).json()["price"] == (
        "3.00"
    )


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, ["name", "price"]),
        ({"name": "   ", "price": "1.00"}, ["name"]),
        ({"name": 5, "price": "1.00"}, ["name"]),
        ({"name": "x" * 201, "price": "1.00"}, ["name"]),
        ({"name": "Cup", "price": "1.005"}, ["price"]),
        ({"name": "Cup", "price": 1.005}, ["price"]),
        ({"name": "Cup", "price": "-1.00"}, ["price"]),
        ({"name": "Cup", "price": -1}, ["price"]),
        ({"name": "Cup", "price": "1e3"}, ["price"]),
        ({"name": "Cup", "price": True}, ["price"]),
        ({"name": "Cup", "price": "abc"}, ["price"]),
        ({"name": "Cup", "price": 1e12}, ["price"]),
        ({"name": "Cup", "price": "1.00", "stock": -1}, ["stock"]),
        ({"name": "Cup", "price": "1.00", "stock": 1.5}, ["stock"]),
        ({"name": "Cup", "price": "1.00", "stock": True}, ["stock"]),
        ({"name": "Cup", "price": "1.00", "slug": "Not A Slug"}, ["slug"]),
        ({"name": "Cup", "price": "1.00", "slug": ""}, ["slug"]),
        ({"name": "Cup", "price": "1.00", "currency": "eur"}, ["currency"]),
        ({"name": "Cup", "price": "1.00", "currency": "EURO"}, ["currency"]),
        ({"name": "Cup", "price": "1.00", "description": 3}, ["description"]),
        ({"name": "Cup", "price": "1.00", "id": 3, "colour": "red"}, ["colour", "id"]),
        ({"name": "!!!", "price": "1.00"}, ["slug"]),
    ],
)
def test_create_item_validation(
    api: Client, assert_problem: Any, payload: dict[str, Any], fields: list[str]
) -> None:
    body = assert_problem(post_json(api, "/catalog/items", payload), 422, instance="/catalog/items")
    assert body["title"] == "Unprocessable Content"
    assert sorted(error["field"] for error in body["errors"]) == sorted(fields)
    assert all(isinstance(error["message"], str) and error["message"] for error in body["errors"])
    assert Item.objects.count() == 0


def test_create_item_duplicate_slug(api: Client, assert_problem: Any, seeded: None) -> None:
    response = post_json(
        api, "/catalog/items", {"name": "Moka", "slug": "moka-pot-6-cup", "price": "1.00"}
    )
    body = assert_problem(response, 409)
    assert body["errors"] == [{"field": "slug", "message": "Already in use."}]


@pytest.mark.parametrize("raw", ['{"name": "Cup", "price": ', "not json", "NaN", "\xff"])
def test_create_item_malformed_json(api: Client, assert_problem: Any, raw: str) -> None:
    data = raw.encode("latin-1")
    response = api.post("/catalog/items", data=data, content_type="application/json")
    body = assert_problem(response, 400, instance="/catalog/items")
    assert body["detail"] == "The request body is not valid JSON."


def test_create_item_body_must_be_object(api: Client, assert_problem: Any) -> None:
    body = assert_problem(post_json(api, "/catalog/items", [1, 2]), 422)
    assert body["errors"][0]["field"] == "body"


def test_create_item_requires_body(api: Client, assert_problem: Any) -> None:
    response = api.post("/catalog/items", data=b"", content_type="application/json")
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "body"


def test_create_item_requires_json_content_type(api: Client, assert_problem: Any) -> None:
    response = api.post("/catalog/items", data=b'{"name": "x"}', content_type="text/plain")
    assert_problem(response, 415)


def test_create_item_accepts_json_suffix_media_type(api: Client) -> None:
    response = api.post(
        "/catalog/items",
        data=b'{"name": "Sugar Bowl", "price": "8.00"}',
        content_type="application/vnd.catalog+json; charset=utf-8",
    )
    assert response.status_code == 201


def test_create_item_body_too_large(api: Client, assert_problem: Any) -> None:
    payload = json.dumps({"name": "Cup", "price": "1.00", "description": "x" * 2_000_000})
    response = api.post("/catalog/items", data=payload, content_type="application/json")
    assert_problem(response, 413)


# --- generic error handling --------------------------------------------------------------


def test_method_not_allowed(api: Client, assert_problem: Any) -> None:
    response = api.delete("/catalog/items")
    body = assert_problem(response, 405, instance="/catalog/items")
    assert response["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert "DELETE" in body["detail"]
    detail = api.put("/catalog/items/1")
    assert_problem(detail, 405)
    assert detail["Allow"] == "GET, HEAD, OPTIONS"


def test_options_lists_allowed_methods(api: Client) -> None:
    response = api.options("/catalog/items")
    assert response.status_code == 204
    assert response["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert not response.has_header("Content-Length")


@pytest.mark.parametrize("path", ["/nope", "/catalog/items/", "/catalog/items/abc", "/catalog"])
def test_unknown_url(api: Client, assert_problem: Any, path: str) -> None:
    body = assert_problem(api.get(path), 404, instance=path)
    assert body["detail"] == "The requested resource was not found."


@override_settings(DEBUG=True)
def test_unknown_url_is_json_in_debug_mode(api: Client, assert_problem: Any) -> None:
    assert_problem(api.get("/no/such/page"), 404, instance="/no/such/page")


def test_http404_from_a_view_uses_handler404(rf: RequestFactory, assert_problem: Any) -> None:
    from catalog_project import urls

    assert urls.handler404 == "catalog.problems.page_not_found"
    response = problems.page_not_found(rf.get("/x"), Http404("gone"))
    assert_problem(response, 404, instance="/x")
    assert_problem(problems.server_error(rf.get("/y")), 500, instance="/y")
    assert_problem(problems.permission_denied(rf.get("/z"), None), 403, instance="/z")


def test_unknown_url_with_wrong_method_is_still_404(api: Client, assert_problem: Any) -> None:
    assert_problem(api.post("/nope", data=b"{}", content_type="application/json"), 404)


def test_disallowed_host(api: Client, assert_problem: Any) -> None:
    assert_problem(api.get("/catalog/items", HTTP_HOST="evil.example"), 400)


def test_unhandled_error_is_a_problem(
    assert_problem: Any, seeded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(self: Item) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(Item, "to_dict", explode)
    client = Client(raise_request_exception=False)
    response = client.get("/catalog/items", HTTP_X_REQUEST_ID="req-500")
    body = assert_problem(response, 500, instance="/catalog/items")
    assert "boom" not in json.dumps(body)
    assert response["X-Request-ID"] == "req-500"
