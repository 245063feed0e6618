"""Checks of one EMF document: the specification's JSON schema (``emf-schema.json``, vendored
with its source in its ``$comment``) and the specification's rules the schema cannot express
(target members, at most 100 metrics per directive and 100 values per metric).

Self-contained (no package imports), so the integration tests load it by path too.
"""

from __future__ import annotations

import copy
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).with_name("emf-schema.json")
MAX_METRICS = 100
MAX_VALUES = 100
MAX_EVENT_BYTES = 256 * 1024  # the specification's size limit for one document


@cache
def _validator(max_dimensions: int) -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    if max_dimensions != 9:
        schema = copy.deepcopy(schema)
        directive = schema["properties"]["_aws"]["properties"]["CloudWatchMetrics"]["items"]
        directive["properties"]["Dimensions"]["items"]["maxItems"] = max_dimensions
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _metric_target(name: str, value: Any) -> list[str]:
    if _number(value):
        return []
    if isinstance(value, list):
        if not value or len(value) > MAX_VALUES or not all(_number(v) for v in value):
            return [f"{name}: an array of 1-{MAX_VALUES} numbers expected"]
        return []
    if not isinstance(value, dict):
        return [f"{name}: a number, an array or a Values/Counts object expected"]
    problems = []
    keys = {"Values", "Counts", "Max", "Min", "Count", "Sum"}
    if set(value) != keys:
        return [f"{name}: distribution keys {sorted(value)} != {sorted(keys)}"]
    values, counts = value["Values"], value["Counts"]
    if not isinstance(values, list) or not isinstance(counts, list):
        return [f"{name}: Values and Counts must be arrays"]
    if not 1 <= len(values) <= MAX_VALUES or len(values) != len(counts):
        problems.append(f"{name}: 1-{MAX_VALUES} Values and as many Counts expected")
    if not all(_number(v) for v in values):
        problems.append(f"{name}: Values must be numbers")
    if not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in counts):
        problems.append(f"{name}: Counts must be positive integers")
    if not all(_number(value[k]) for k in ("Max", "Min", "Count", "Sum")):
        return [*problems, f"{name}: Max, Min, Count and Sum must be numbers"]
    if problems:
        return problems
    if value["Count"] != sum(counts):
        problems.append(f"{name}: Count {value['Count']} != sum of Counts {sum(counts)}")
    if not value["Min"] <= min(values) <= max(values) <= value["Max"]:
        problems.append(f"{name}: Values outside [Min, Max]")
    if value["Sum"] < 0 and value["Min"] >= 0:
        problems.append(f"{name}: negative Sum of non-negative values")
    return problems


def problems(doc: Any, *, max_dimensions: int = 9) -> list[str]:
    """Everything wrong with ``doc`` as an EMF document (empty when it is valid)."""
    out = [error.message for error in _validator(max_dimensions).iter_errors(doc)]
    if out or not isinstance(doc, dict):
        return out or ["not an object"]
    if len(json.dumps(doc).encode("utf-8")) > MAX_EVENT_BYTES:
        out.append("document over 256 KiB")
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        metrics = directive["Metrics"]
        if len(metrics) > MAX_METRICS:
            out.append(f"{len(metrics)} metrics in one directive (at most {MAX_METRICS})")
        names = [m["Name"] for m in metrics]
        if len(set(names)) != len(names):
            out.append(f"metric names repeat: {names}")
        for keys in directive["Dimensions"]:
            for key in keys:
                target = doc.get(key)
                if not isinstance(target, str) or not target:
                    out.append(f"dimension {key!r}: a non-empty string target expected")
                elif not target.isascii() or len(target) > 1024:
                    out.append(f"dimension {key!r}: ASCII of at most 1024 characters expected")
        for name in names:
            if name not in doc:
                out.append(f"metric {name!r} has no target member")
            else:
                out.extend(_metric_target(name, doc[name]))
    return out
