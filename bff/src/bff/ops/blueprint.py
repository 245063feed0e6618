"""The ops blueprint, its access rule (``BFF_OPS_TOKEN``) and the responses every endpoint uses.

Access: with a token set, ``Authorization: Bearer <token>`` is required (constant-time compare),
else 401 (failed attempts rate-limited per client); no token in production: 404, as if the API
did not exist; no token elsewhere: open, for local development.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import NotFound

from ..errors import problem_response
from ..ratelimit import client_key
from ..settings import Settings

bp = Blueprint("ops", __name__, url_prefix="/api/ops")

DAY_MINUTES = 1440
RETENTION_MINUTES = 14 * DAY_MINUTES


def token_matches(expected: str, authorization: str | None) -> bool:
    """True when ``authorization`` is ``Bearer <expected>`` (scheme case-insensitive; the token
    compared in constant time)."""
    if not authorization:
        return False
    scheme, _, presented = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


@bp.before_request
def _require_token() -> Response | None:
    settings: Settings = current_app.config["BFF_SETTINGS"]
    if settings.ops_token is None:
        if settings.environment == "production":
            raise NotFound()
        return None
    authorization = request.headers.get("Authorization")
    if token_matches(settings.ops_token, authorization):
        return None
    limits = current_app.extensions.get("bff.ratelimits")
    if limits is not None:  # failed attempts only: guessing the token is slow, using it is free
        decision = limits.hit("ops_auth", client_key())
        if not decision.allowed:
            return problem_response(
                429,
                "rate-limited",
                "too many requests with a missing or wrong ops token from this client",
                headers={"Retry-After": str(decision.retry_after)},
            )
    challenge = 'Bearer realm="ops"'
    if authorization:
        challenge += ', error="invalid_token"'
    return problem_response(
        401,
        "unauthorized",
        "the ops API needs Authorization: Bearer <BFF_OPS_TOKEN>",
        headers={"WWW-Authenticate": challenge},
    )


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def iso_ms(epoch_ms: int) -> str:
    """``2026-01-02T03:04:05.678Z`` for an epoch in milliseconds."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def json_response(payload: Any, status: int = 200) -> Response:
    """``payload`` as an ``application/json`` response."""
    return Response(orjson.dumps(payload), status=status, content_type="application/json")


def minutes_param(name: str, default: int, maximum: int) -> int | Response:
    """Query parameter ``name`` as whole minutes in 1..``maximum``, or a 400 problem."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        return problem_response(
            400,
            "bad-query",
            f"{name} must be a whole number of minutes from 1 to {maximum}, got {raw[:40]!r}",
        )
    return int(text)
