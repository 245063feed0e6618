"""The client-error report the ingest benchmarks post: one realistic ~3 KB report (12 frames,
10 breadcrumbs, an email and a query string for the scrubber), shared by bench/ingest and
bench/models so both measure the same body."""

from __future__ import annotations

import json
import uuid
from typing import Any

CHUNK = "_next/static/chunks/app-bench.js"


def make_report(base: str, positions: list[tuple[int, int]], release: str | None) -> bytes:
    """A realistic ~3 KB report."""
    stack = "TypeError: bad price in handler3: 1234\n" + "".join(
        f"    at handler{i} ({base}/{CHUNK}:{line}:{col})\n"
        for i, (line, col) in enumerate(positions)
    )
    doc: dict[str, Any] = {
        "v": 1,
        "incident": "BENCH-" + uuid.uuid4().hex[:8].upper(),
        "kind": "error",
        "error": {
            "type": "TypeError",
            "message": "bad price in handler3: 1234 (customer jane.doe@example.com)",
            "stack": stack,
        },
        "url": f"{base}/products/1234?ref=newsletter&utm_source=mail",
        "route": "/products/[id]",
        "session": "tab-" + uuid.uuid4().hex[:12],
        "breadcrumbs": [
            {
                "t": 1_700_000_000_000 + i * 750,
                "type": ("navigation", "click", "fetch")[i % 3],
                "data": {
                    "url": f"/api/catalog/products/{i}",
                    "status": 200,
                    "target": "button.buy",
                },
            }
            for i in range(10)
        ],
        "request_ids": [uuid.uuid4().hex for _ in range(3)],
        "ts": 1_700_000_010_000,
    }
    if release is not None:
        doc["release"] = release
    return json.dumps(doc).encode()
