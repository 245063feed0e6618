"""CloudWatch Embedded Metric Format documents, split to the format's limits.

One :class:`Series` (a namespace, dimension values, dimension sets and metrics) becomes one or
more EMF documents: at most :data:`MAX_METRICS` metric definitions per document and at most
:data:`MAX_VALUES` values per metric. Anything over a limit goes into another document with the
same dimension values and the same timestamp, which CloudWatch aggregates as one data point:
nothing is dropped. A dimension set over :data:`MAX_DIMENSIONS` keys cannot be split without
changing what the metric is, so it is refused when the series is built.

A distribution is written as ``{"Values", "Counts", "Max", "Min", "Count", "Sum"}`` (the form
AWS's Java EMF library writes for histograms), so CloudWatch can take percentiles of it.
Spec: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

MAX_METRICS: Final = 100  # metric definitions per MetricDirective
MAX_DIMENSIONS: Final = 30  # keys per dimension set
MAX_VALUES: Final = 100  # values of one metric in one document
UNITS: Final = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)
_RESERVED: Final = "_aws"


@dataclass(slots=True)
class Distribution:
    """Observed values as (value, count) pairs, with the exact count, sum, minimum and maximum."""

    values: list[float]
    counts: list[int]
    minimum: float
    maximum: float
    total: float

    def __post_init__(self) -> None:
        if len(self.values) != len(self.counts) or not self.values:
            raise ValueError("a distribution needs as many counts as values, at least one")
        if any(count <= 0 for count in self.counts):
            raise ValueError("distribution counts must be positive")

    @property
    def count(self) -> int:
        """How many observations."""
        return sum(self.counts)

    def pieces(self, size: int = MAX_VALUES) -> list[dict[str, Any]]:
        """The EMF value objects, each with at most ``size`` values; together they add up to
        this distribution (count, sum, minimum and maximum exact)."""
        order = sorted(range(len(self.values)), key=self.values.__getitem__)
        values = [self.values[i] for i in order]
        counts = [self.counts[i] for i in order]
        approx_total = math.fsum(v * c for v, c in zip(values, counts, strict=True))
        out: list[dict[str, Any]] = []
        for start in range(0, len(values), size):
            vs = values[start : start + size]
            cs = counts[start : start + size]
            part = math.fsum(v * c for v, c in zip(vs, cs, strict=True))
            # The sum is exact overall: each piece takes its share by its bucketed values.
            share = (
                self.total * (part / approx_total)
                if approx_total
                else self.total / len(range(0, len(values), size))
            )
            out.append(
                {
                    "Values": vs,
                    "Counts": cs,
                    "Max": self.maximum if start + size >= len(values) else vs[-1],
                    "Min": self.minimum if start == 0 else vs[0],
                    "Count": sum(cs),
                    "Sum": share,
                }
            )
        return out


Value = float | int | Distribution


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric of a series: a name, a CloudWatch unit and a number or a distribution."""

    name: str
    unit: str
    value: Value


@dataclass(slots=True)
class Series:
    """Metrics that share dimension values, emitted under each of ``dimension_sets``."""

    namespace: str
    dimensions: Mapping[str, str]
    dimension_sets: Sequence[Sequence[str]]
    metrics: list[Metric] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 1 <= len(self.namespace) <= 255:
            raise ValueError("namespace must be 1-255 characters")
        if not self.dimension_sets:
            raise ValueError("a series needs at least one dimension set (it may be empty)")
        for keys in self.dimension_sets:
            if len(keys) > MAX_DIMENSIONS:
                raise ValueError(
                    f"a dimension set holds at most {MAX_DIMENSIONS} keys, got {len(keys)}"
                )
            for key in keys:
                if key not in self.dimensions:
                    raise ValueError(f"dimension {key!r} has no value in this series")
        for key, value in self.dimensions.items():
            if key == _RESERVED or not 1 <= len(key) <= 255:
                raise ValueError(f"bad dimension name {key!r}")
            if not isinstance(value, str) or not value:
                raise ValueError(f"dimension {key!r} needs a non-empty string value")

    def add(self, name: str, unit: str, value: Value) -> None:
        """Append a metric (names must not repeat or collide with a dimension)."""
        if unit not in UNITS:
            raise ValueError(f"unknown CloudWatch unit {unit!r}")
        if name == _RESERVED or name in self.dimensions or not 1 <= len(name) <= 255:
            raise ValueError(f"bad metric name {name!r}")
        if any(metric.name == name for metric in self.metrics):
            raise ValueError(f"metric {name!r} is already in this series")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"metric {name!r} is not a finite number")
        self.metrics.append(Metric(name, unit, value))


def documents(series: Series, timestamp_ms: int) -> Iterator[dict[str, Any]]:
    """The EMF documents for ``series`` (none when it has no metrics)."""
    # Each metric's value objects: a number is one piece, a distribution one per 100 values.
    pieces: list[tuple[Metric, list[Any]]] = []
    for metric in series.metrics:
        if isinstance(metric.value, Distribution):
            pieces.append((metric, list(metric.value.pieces())))
        else:
            pieces.append((metric, [metric.value]))
    dimension_sets = [list(keys) for keys in series.dimension_sets]
    for start in range(0, len(pieces), MAX_METRICS):
        chunk = pieces[start : start + MAX_METRICS]
        rounds = max(len(values) for _, values in chunk)
        for index in range(rounds):
            present = [(metric, values[index]) for metric, values in chunk if index < len(values)]
            doc: dict[str, Any] = {
                "_aws": {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": series.namespace,
                            "Dimensions": dimension_sets,
                            "Metrics": [
                                {"Name": metric.name, "Unit": metric.unit} for metric, _ in present
                            ],
                        }
                    ],
                }
            }
            doc.update(series.dimensions)
            for metric, value in present:
                doc[metric.name] = value
            yield doc


def encode(doc: Mapping[str, Any]) -> str:
    """One document as one line of JSON."""
    return orjson.dumps(doc).decode("utf-8")


__all__ = [
    "MAX_DIMENSIONS",
    "MAX_METRICS",
    "MAX_VALUES",
    "Distribution",
    "Metric",
    "Series",
    "documents",
    "encode",
]
