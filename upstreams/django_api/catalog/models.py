"""Database models of the catalog service."""

from __future__ import annotations

from typing import Any

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from catalog.formatting import format_timestamp

DEFAULT_CURRENCY = "EUR"


class Item(models.Model):
    """A product that can be listed, searched and ordered."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    stock = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="catalog_item_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON representation used by the API (price as a 2-place string)."""
        return {
            "id": self.pk,
            "name": self.name,
            "slug": self.slug,
            "description": self.description,
            "price": f"{self.price:.2f}",
            "currency": self.currency,
            "stock": self.stock,
            "created_at": format_timestamp(self.created_at),
        }
