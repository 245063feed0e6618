"""Validation of the ``POST /catalog/items`` payload."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.text import slugify

from catalog.models import DEFAULT_CURRENCY
from catalog.problems import FieldError, ValidationFailed

NAME_MAX_LENGTH = 200
SLUG_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 5000
MAX_PRICE = Decimal("99999999.99")
MAX_STOCK = 1_000_000

_SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_PRICE_STRING_RE = re.compile(r"[0-9]{1,8}(?:\.[0-9]{1,2})?")
_CENT = Decimal("0.01")

ALLOWED_FIELDS = frozenset({"name", "slug", "description", "price", "currency", "stock"})


@dataclass(frozen=True, slots=True)
class ItemInput:
    name: str
    slug: str
    description: str
    price: Decimal
    currency: str
    stock: int


def _text(
    data: dict[str, Any],
    field: str,
    errors: list[FieldError],
    *,
    required: bool,
    max_length: int,
    default: str = "",
) -> str:
    if field not in data or data[field] is None:
        if required:
            errors.append(FieldError(field, "This field is required."))
        return default
    value = data[field]
    if not isinstance(value, str):
        errors.append(FieldError(field, "Must be a string."))
        return default
    value = value.strip()
    if required and not value:
        errors.append(FieldError(field, "Must not be blank."))
    elif len(value) > max_length:
        errors.append(FieldError(field, f"Must be at most {max_length} characters long."))
    return value


def _price(data: dict[str, Any], errors: list[FieldError]) -> Decimal:
    value = data.get("price")
    if value is None:
        errors.append(FieldError("price", "This field is required."))
        return Decimal(0)
    message = 'Must be a non-negative amount with at most 2 decimal places, e.g. "12.50".'
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        errors.append(FieldError("price", message))
        return Decimal(0)
    if isinstance(value, str) and not _PRICE_STRING_RE.fullmatch(value.strip()):
        errors.append(FieldError("price", message))
        return Decimal(0)
    try:
        price = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        errors.append(FieldError("price", message))
        return Decimal(0)
    if not price.is_finite() or price < 0 or price != price.quantize(_CENT):
        errors.append(FieldError("price", message))
        return Decimal(0)
    if price > MAX_PRICE:
        errors.append(FieldError("price", f"Must not exceed {MAX_PRICE}."))
        return Decimal(0)
    return price.quantize(_CENT)


def _stock(data: dict[str, Any], errors: list[FieldError]) -> int:
    value = data.get("stock", 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STOCK:
        errors.append(FieldError("stock", f"Must be an integer between 0 and {MAX_STOCK}."))
        return 0
    return value


def validate_item_payload(data: dict[str, Any]) -> ItemInput:
    """Validate a decoded JSON object; raise ``ValidationFailed`` listing every problem."""
    errors: list[FieldError] = [
        FieldError(field, "Unknown field.") for field in sorted(set(data) - ALLOWED_FIELDS)
    ]

    name = _text(data, "name", errors, required=True, max_length=NAME_MAX_LENGTH)
    description = _text(
        data, "description", errors, required=False, max_length=DESCRIPTION_MAX_LENGTH
    )

    if data.get("slug") is None:
        slug = slugify(name)[:SLUG_MAX_LENGTH].strip("-")
        if name and not slug:
            errors.append(FieldError("slug", "Cannot be derived from the name; provide one."))
    else:
        slug = _text(data, "slug", errors, required=True, max_length=SLUG_MAX_LENGTH)
        if slug and len(slug) <= SLUG_MAX_LENGTH and not _SLUG_RE.fullmatch(slug):
            errors.append(
                FieldError(
                    "slug", "Must contain only lower-case letters, digits and single hyphens."
                )
            )

    currency = _text(
        data, "currency", errors, required=False, max_length=3, default=DEFAULT_CURRENCY
    )
    currency_given = isinstance(data.get("currency"), str)
    if currency_given and len(currency) <= 3 and not _CURRENCY_RE.fullmatch(currency):
        errors.append(FieldError("currency", "Must be a three-letter ISO 4217 code, e.g. EUR."))

    price = _price(data, errors)
    stock = _stock(data, errors)

    if errors:
        raise ValidationFailed(errors)
    return ItemInput(
        name=name,
        slug=slug,
        description=description,
        price=price,
        currency=currency,
        stock=stock,
    )
