"""A pydantic ``ValidationError`` as the problem document's ``errors``, and query strings read
through a model."""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from typing import Annotated, Any, Final, TypeVar

from pydantic import BaseModel, BeforeValidator, Field, ValidationError
from pydantic_core import ErrorDetails

MAX_ERRORS: Final = 20
_WHOLE_NUMBER: Final = re.compile(r"[0-9]+")  # ASCII digits only: "²" or "١" is not a number
_TOO_LARGE: Final = 10**9  # beyond every bound; stands for a longer run of digits

Model = TypeVar("Model", bound=BaseModel)


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc)


#: pydantic's error types in the words of the rest of the BFF's problems
_WORDS: Final = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be an array",
    "finite_number": "must be a finite number",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "string_pattern_mismatch": "must match {pattern}",
    "too_short": "must have at least {min_length} items",
    "too_long": "must have at most {max_length} items",
    "literal_error": "must be {expected}",
    "json_invalid": "is not valid JSON",
}


def _words(error: ErrorDetails) -> str:
    template = _WORDS.get(error["type"])
    if template is not None:
        try:
            return template.format(**error.get("ctx", {}))
        except (KeyError, IndexError):
            pass
    # "Value error, must be ..." is pydantic's prefix for our own validators' messages
    return error["msg"].removeprefix("Value error, ")


def field_errors(
    exc: ValidationError, *, query: bool = False, skip: Container[str] = ()
) -> list[dict[str, str]]:
    """The problem's ``errors``: a JSON pointer (or, for a query, the parameter) and the reason,
    at most ``MAX_ERRORS``; ``skip`` names location segments that are not members of the
    document (the tags of discriminated unions)."""
    out: list[dict[str, str]] = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = error["loc"]
        if skip:
            loc = tuple(part for part in loc if not (isinstance(part, str) and part in skip))
        if query:
            out.append({"parameter": str(loc[0]) if loc else "", "detail": _words(error)})
        else:
            out.append({"pointer": _pointer(loc), "detail": _words(error)})
        if len(out) == MAX_ERRORS:
            break
    return out


def summary(errors: list[dict[str, str]]) -> str:
    """One line naming every refused field: ``since: must be ...; /url: must be ...``."""
    parts = [f"{e.get('parameter') or e.get('pointer') or '(body)'}: {e['detail']}" for e in errors]
    return "; ".join(parts)


def _whole_number(value: Any) -> Any:
    if isinstance(value, str):
        if _WHOLE_NUMBER.fullmatch(value) is None:
            raise ValueError("must be a whole number written with the digits 0-9")
        digits = value.lstrip("0") or "0"
        return int(digits) if len(digits) < 10 else _TOO_LARGE
    return value


#: A query parameter holding a whole number: ASCII digits only, no sign, no spaces, not empty.
QueryInt = Annotated[int, BeforeValidator(_whole_number)]


def bounded(default: int, maximum: int, description: str) -> Any:
    """A ``Field`` for a whole-number query parameter from 1 to ``maximum``."""
    return Field(default=default, ge=1, le=maximum, description=description)


def query_model(model: type[Model], args: Mapping[str, str]) -> Model:
    """``model`` from a query string's first value of each of its fields (others ignored);
    raises ``ValidationError``."""
    present = {name: args[name] for name in model.model_fields if name in args}
    return model.model_validate(present)
