"""Request and response models."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

# Deliberately simple: something@something.tld, no whitespace.
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_LINES_PER_ORDER = 50
MAX_QUANTITY = 100


def _check_email(value: str) -> str:
    if not EMAIL_RE.fullmatch(value):
        raise PydanticCustomError("email", "Must be a valid email address.")
    return value


Email = Annotated[str, Field(max_length=254), AfterValidator(_check_email)]


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: Annotated[int, Field(strict=True, gt=0, description="Catalog item id")]
    quantity: Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]


class OrderCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [{"item_id": 1, "quantity": 2}],
                    "customer_email": "ada@example.com",
                    "note": "Please gift-wrap.",
                }
            ]
        },
    )

    items: Annotated[list[OrderLineIn], Field(min_length=1, max_length=MAX_LINES_PER_ORDER)]
    customer_email: Email
    note: Annotated[str | None, Field(max_length=500)] = None


class OrderLine(BaseModel):
    item_id: int
    quantity: int
    unit_price: Annotated[str, Field(description='Decimal string, e.g. "12.50"')]
    name: str


class Order(BaseModel):
    id: int
    status: Literal["confirmed"]
    items: list[OrderLine]
    total: Annotated[str, Field(description='Decimal string, e.g. "25.00"')]
    currency: str
    customer_email: str
    note: str | None
    created_at: datetime


class OrderList(BaseModel):
    orders: list[Order]
    total: int
    limit: int
    offset: int


class Health(BaseModel):
    status: Literal["ok"]
