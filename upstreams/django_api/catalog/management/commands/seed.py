"""``manage.py seed``: insert the demo catalogue. Safe to run repeatedly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from catalog.models import DEFAULT_CURRENCY, Item
from catalog.seed_data import SEED_ITEMS


class Command(BaseCommand):
    help = "Insert the demo catalogue items that are not present yet (matched by slug)."

    def handle(self, *args: Any, **options: Any) -> None:
        created = 0
        with transaction.atomic():
            existing = set(Item.objects.values_list("slug", flat=True))
            for slug, name, description, price, stock in SEED_ITEMS:
                if slug in existing:
                    continue
                Item.objects.create(
                    slug=slug,
                    name=name,
                    description=description,
                    price=Decimal(price),
                    currency=DEFAULT_CURRENCY,
                    stock=stock,
                )
                created += 1
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Seeded {created} new item(s); {len(SEED_ITEMS) - created} already present."
            )
