"""Catalog API views: health check, item listing/search, detail and creation."""

from __future__ import annotations

import math
from http import HTTPStatus

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.http import HttpRequest, JsonResponse

from catalog.api import api_view, int_query_param, parse_json_object
from catalog.models import Item
from catalog.problems import FieldError, ProblemError, problem_response
from catalog.validation import validate_item_payload

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000
MAX_QUERY_LENGTH = 200
# SQLite integers are signed 64-bit; larger ids cannot exist.
MAX_ITEM_ID = 2**63 - 1


@api_view(["GET"])
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness/readiness: 200 when the database answers a trivial query, otherwise 503."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return problem_response(
            request, HTTPStatus.SERVICE_UNAVAILABLE, "The database is not available."
        )
    return JsonResponse({"status": "ok"})


@api_view(["GET", "POST"])
def items_collection(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        return _create_item(request)
    return _list_items(request)


def _list_items(request: HttpRequest) -> JsonResponse:
    page = int_query_param(request, "page", 1, minimum=1, maximum=MAX_PAGE)
    page_size = int_query_param(
        request, "page_size", DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE
    )
    query = request.GET.get("q", "").strip()
    if len(query) > MAX_QUERY_LENGTH:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST,
            "Invalid query parameter 'q'.",
            errors=[FieldError("q", f"Must be at most {MAX_QUERY_LENGTH} characters long.")],
        )

    items = Item.objects.all()
    if query:
        items = items.filter(Q(name__icontains=query) | Q(description__icontains=query))
    total = items.count()
    offset = (page - 1) * page_size
    page_items = list(items.order_by("id")[offset : offset + page_size]) if offset < total else []
    return JsonResponse(
        {
            "items": [item.to_dict() for item in page_items],
            "page": page,
            "page_size": page_size,
            "total": total,
            "pages": math.ceil(total / page_size),
        }
    )


def _create_item(request: HttpRequest) -> JsonResponse:
    payload = validate_item_payload(parse_json_object(request))
    conflict = ProblemError(
        HTTPStatus.CONFLICT,
        f"An item with slug {payload.slug!r} already exists.",
        errors=[FieldError("slug", "Already in use.")],
    )
    if Item.objects.filter(slug=payload.slug).exists():
        raise conflict
    try:
        with transaction.atomic():
            item = Item.objects.create(
                name=payload.name,
                slug=payload.slug,
                description=payload.description,
                price=payload.price,
                currency=payload.currency,
                stock=payload.stock,
            )
    except IntegrityError as exc:  # lost a race with a concurrent insert of the same slug
        raise conflict from exc
    response = JsonResponse(item.to_dict(), status=HTTPStatus.CREATED)
    response["Location"] = f"/catalog/items/{item.pk}"
    return response


@api_view(["GET"])
def item_detail(request: HttpRequest, item_id: int) -> JsonResponse:
    item = Item.objects.filter(pk=item_id).first() if item_id <= MAX_ITEM_ID else None
    if item is None:
        raise ProblemError(HTTPStatus.NOT_FOUND, f"Item {item_id} does not exist.")
    return JsonResponse(item.to_dict())
