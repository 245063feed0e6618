"""The models in ``bff.schemas``: the problems the BFF writes are the one ``Problem`` shape, and
query strings are read strictly."""

from __future__ import annotations

import orjson
import pytest
from bff.problems import problem_body, public_problem
from bff.schemas.ops import GroupsQuery, TrafficQuery
from bff.schemas.problem import Problem
from bff.schemas.validation import field_errors, query_model, summary
from pydantic import ValidationError


@pytest.mark.parametrize(
    "body",
    [
        problem_body(502, "upstream-unreachable", "no answer", request_id="r1", instance="/api/x"),
        problem_body(429, "rate-limited", "slow down", request_id=None),
        problem_body(
            422,
            "invalid-report",
            "the report does not match format v1: /url: is required",
            request_id="r2",
            extra={"errors": [{"pointer": "/url", "detail": "is required"}]},
        ),
        public_problem(
            b'{"type":"about:blank","title":"Bad Request","status":400,'
            b'"errors":[{"field":"order_id","message":"too small"}]}',
            "/api/orders/0",
            "r3",
        ),
    ],
    ids=["bff", "no-request-id", "with-errors", "upstream"],
)
def test_every_problem_written_is_a_problem(body: bytes | None) -> None:
    assert body is not None
    problem = Problem.model_validate_json(body)
    assert problem.status >= 400


@pytest.mark.parametrize("raw", ["", "²", "\u0661", " 5", "5 ", "+5", "-5", "5.0", "1e3", "0x10"])
def test_query_numbers_are_ascii_digits_only(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        query_model(TrafficQuery, {"minutes": raw})
    [error] = field_errors(caught.value, query=True)
    assert error["parameter"] == "minutes"
    assert summary([error]).startswith("minutes: must be")


def test_query_defaults_bounds_and_unknown_parameters() -> None:
    assert query_model(GroupsQuery, {"x": "1"}) == GroupsQuery()
    assert query_model(GroupsQuery, {"since": "0020160", "limit": "200"}).since == 20160
    with pytest.raises(ValidationError) as caught:
        query_model(GroupsQuery, {"since": "20161", "limit": "0", "status": "closed"})
    assert [e["parameter"] for e in field_errors(caught.value, query=True)] == [
        "since",
        "status",
        "limit",
    ]


def test_problem_schema_is_the_model() -> None:
    doc = orjson.loads(orjson.dumps(Problem.model_json_schema()))
    assert set(doc["required"]) == {"type", "title", "status"}
    assert doc["additionalProperties"] is True
