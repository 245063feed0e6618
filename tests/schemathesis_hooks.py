"""Schemathesis hooks for ``tests/test_schemathesis.py`` (loaded through SCHEMATHESIS_HOOKS).

On the proxied catch-alls the upstream may refuse a path the document allows (the test's
configuration lets 400, 405 and 422 through for them), but the BFF itself never may: this check
fails a schema-valid request that the BFF answered with one of its own problems
(``urn:bff:problem:...``) other than an upstream outage (502, 503, 504).
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis import Case, CheckContext, Response

PASS_THROUGH = frozenset({"/api/catalog/{path}", "/api/orders/{path}"})
BFF_PROBLEM = "urn:bff:problem:"


@schemathesis.check
def bff_accepts_documented_pass_through(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """A schema-valid request on a proxied route is never refused by the BFF itself."""
    meta = case.meta
    if case.operation.path not in PASS_THROUGH or meta is None:
        return None
    if not meta.generation.mode.is_positive or not 400 <= response.status_code < 500:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    problem_type = body.get("type") if isinstance(body, dict) else None
    if isinstance(problem_type, str) and problem_type.startswith(BFF_PROBLEM):
        raise AssertionError(
            f"the BFF refused a request its document allows: {response.status_code} "
            f"{problem_type}: {body.get('detail')}"
        )
    return None
