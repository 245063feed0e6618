"""The RFC 9457 problem document: the body of every error the BFF produces."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FieldError(BaseModel):
    """One reason a request was refused: where (a JSON pointer into the body, or a query
    parameter's name) and why, in words."""

    model_config = ConfigDict(extra="allow")  # an upstream's problem may list more members

    detail: str | None = Field(default=None, description="What is wrong, in words.")
    pointer: str | None = Field(
        default=None, description="JSON pointer (RFC 6901) to the offending member of the body."
    )
    parameter: str | None = Field(default=None, description="The offending query parameter.")


class Problem(BaseModel):
    """RFC 9457 problem details. Extension members (``errors``, ``index``, ``fingerprint``,
    ``incident``, ...) may follow the standard ones."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="urn:bff:problem:<slug> for the BFF's own problems; an upstream's "
        "problem keeps its own type.",
        json_schema_extra={"format": "uri-reference"},
    )
    title: str
    status: int = Field(ge=100, le=599)
    detail: str | None = None
    instance: str | None = Field(
        default=None, description="The public path of the request (under /api)."
    )
    request_id: str | None = Field(
        default=None, description="The request id, also sent as X-Request-ID."
    )
    errors: list[FieldError] | None = Field(
        default=None, description="Every field that was refused, with the reason."
    )
