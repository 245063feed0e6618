from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from catalog.models import Item
from catalog.seed_data import SEED_ITEMS

pytestmark = pytest.mark.django_db


def test_seed_data_is_consistent() -> None:
    slugs = [entry[0] for entry in SEED_ITEMS]
    assert 35 <= len(SEED_ITEMS) <= 60
    assert len(slugs) == len(set(slugs))
    assert any(stock == 0 for *_, stock in SEED_ITEMS)


def test_seed_is_idempotent() -> None:
    out = StringIO()
    call_command("seed", stdout=out)
    assert Item.objects.count() == len(SEED_ITEMS)
    assert f"Seeded {len(SEED_ITEMS)} new item(s); 0 already present." in out.getvalue()

    out = StringIO()
    call_command("seed", stdout=out)
    assert Item.objects.count() == len(SEED_ITEMS)
    assert f"Seeded 0 new item(s); {len(SEED_ITEMS)} already present." in out.getvalue()


def test_seed_keeps_existing_rows_and_fills_gaps() -> None:
    call_command("seed", verbosity=0)
    Item.objects.filter(slug="moka-pot-6-cup").update(stock=1)
    Item.objects.filter(slug="knock-box").delete()
    call_command("seed", verbosity=0)
    assert Item.objects.count() == len(SEED_ITEMS)
    assert Item.objects.get(slug="moka-pot-6-cup").stock == 1
    assert Item.objects.filter(slug="knock-box").exists()


def test_seed_is_quiet_at_verbosity_zero() -> None:
    out = StringIO()
    call_command("seed", verbosity=0, stdout=out)
    assert out.getvalue() == ""
