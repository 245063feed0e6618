"""A short per-worker cache for answers that cost an upstream probe or a CloudWatch query."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import current_app

from ..settings import Settings

CACHE_ENTRIES = 64
EXTENSION_KEY = "bff.ops.cache"


def cached(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """``build()``, or its result from the last ``BFF_OPS_CACHE_SECONDS`` in this worker."""
    settings: Settings = current_app.config["BFF_SETTINGS"]
    cache: dict[tuple[Any, ...], tuple[float, Any]] = current_app.extensions.setdefault(
        EXTENSION_KEY, {}
    )
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and now < hit[0]:
        return hit[1]
    value = build()
    if settings.ops_cache_seconds > 0:
        if len(cache) >= CACHE_ENTRIES:
            cache.clear()
        cache[key] = (now + settings.ops_cache_seconds, value)
    return value
