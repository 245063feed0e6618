"""The ops blueprint, its access rule (``BFF_OPS_TOKEN``) and the responses every endpoint uses.

Access: with a token set, ``Authorization: Bearer <token>`` is required (constant-time compare),
else 401 (failed attempts rate-limited per client); no token in production: 404, as if the API
did not exist; no token elsewhere: open, for local development.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import TypeVar

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import NotFound

from ..errors import problem_response
from ..ratelimit import client_key
from ..schemas.ops import DAY_MINUTES, RETENTION_MINUTES
from ..schemas.validation import field_errors, query_model, summary
from ..settings import Settings

bp = Blueprint("ops", __name__, url_prefix="/api/ops")

__all__ = [
    "DAY_MINUTES",
    "RETENTION_MINUTES",
    "Refusal",
    "bp",
    "iso_ms",
    "json_response",
    "query",
]

Q = TypeVar("Q", bound=BaseModel)


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


def json_response(answer: BaseModel, status: int = 200) -> Response:
    """``answer`` (its model is the operation's documented response) as ``application/json``."""
    return Response(answer.model_dump_json(), status=status, content_type="application/json")


class Refusal(Exception):
    """A problem answer that ends the request, raised by a check the endpoints share (the
    query string, the index) and answered by the blueprint's handler."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@bp.errorhandler(Refusal)
def _refused(exc: Refusal) -> Response:
    return exc.response


def query(model: type[Q]) -> Q:
    """The request's query string read through ``model``; refuses it with a 400 problem naming
    every refused parameter (an empty ``minutes=`` or ``minutes=²`` included)."""
    try:
        return query_model(model, request.args)
    except ValidationError as exc:
        errors = field_errors(exc, query=True)
        problem = problem_response(400, "bad-query", summary(errors), extra={"errors": errors})
        raise Refusal(problem) from None
