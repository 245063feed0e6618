"""URL patterns of the catalog app, mounted under ``/catalog/``."""

from __future__ import annotations

from django.conf import settings
from django.urls import URLPattern, path, re_path

from catalog import diagnostics, views


def build_urlpatterns(*, include_test_endpoints: bool) -> list[URLPattern]:
    patterns = [
        path("items", views.items_collection, name="items"),
        path("items/<int:item_id>", views.item_detail, name="item-detail"),
    ]
    if include_test_endpoints:
        patterns += [
            # Matches /_test/echo, /_test/echo/ and /_test/echo/<anything>.
            re_path(r"^_test/echo(?:/(?P<rest>.*))?$", diagnostics.echo, name="test-echo"),
            path("_test/stream", diagnostics.stream, name="test-stream"),
            path("_test/delay", diagnostics.delay, name="test-delay"),
            path("_test/status/<int:code>", diagnostics.status, name="test-status"),
            path("_test/large", diagnostics.large, name="test-large"),
            path("_test/cookie", diagnostics.cookie, name="test-cookie"),
            path("_test/redirect", diagnostics.redirect, name="test-redirect"),
        ]
    return patterns


urlpatterns = build_urlpatterns(include_test_endpoints=settings.CATALOG_TEST_ENDPOINTS)
