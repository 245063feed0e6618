"""Validating a client-error report: pydantic v2 and msgspec against the hand-written code.

    .venv/bin/python bench/models/run.py                 # 5 rounds of 20,000 validations
    .venv/bin/python bench/models/run.py --rounds 3 --iterations 5000

The report has the shape and size of the one ``bench/ingest`` posts (~2.7 KB: 12 frames, 10
breadcrumbs, 3 request ids, a release). Each variant turns the request body (bytes) into
checked fields, with the same rules:

* ``handwritten``: ``orjson.loads`` then the field checks the ingest used before
  ``bff.schemas`` (``handwritten.py``): the reference, ratio 1.00;
* ``pydantic``: ``orjson.loads`` then ``ClientErrorReport.model_validate`` (what the BFF runs);
* ``pydantic-json``: ``ClientErrorReport.model_validate_json`` on the bytes;
* ``msgspec``: ``msgspec.json.decode`` into an equivalent ``Struct`` (constraints as
  ``msgspec.Meta``; the 2 KiB breadcrumb data check and the release's ".." rule after decoding).

Printed: the median CPU microseconds per validation over the rounds, and the ratio to the
reference measured in the same run. Stack parsing is shared by every variant and left out.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "ingest"))  # the report
import handwritten  # noqa: E402
from bff.schemas.ingest import (  # noqa: E402
    ERROR_TYPE_PATTERN,
    INCIDENT_PATTERN,
    MAX_BREADCRUMB_BYTES,
    REQUEST_ID_PATTERN,
    SESSION_PATTERN,
    URL_PATTERN,
    ClientErrorReport,
)
from report import make_report  # noqa: E402


class MsgspecError(msgspec.Struct):
    type: Annotated[str, msgspec.Meta(pattern=ERROR_TYPE_PATTERN)]
    message: Annotated[str, msgspec.Meta(max_length=8192)]
    stack: Annotated[str, msgspec.Meta(max_length=32768)] | None = None


class MsgspecCrumb(msgspec.Struct):
    t: int | float
    type: Literal["navigation", "click", "fetch"]
    data: dict[str, Any] = {}


SessionId = Annotated[str, msgspec.Meta(pattern=SESSION_PATTERN)]


class MsgspecReport(msgspec.Struct):
    v: Literal[1]
    incident: Annotated[str, msgspec.Meta(pattern=INCIDENT_PATTERN)]
    kind: Literal["error", "unhandledrejection", "boundary", "server"]
    error: MsgspecError
    url: Annotated[str, msgspec.Meta(max_length=2048, pattern=URL_PATTERN)]
    route: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    release: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")] | None = (
        None
    )
    session: SessionId | None = None
    digest: SessionId | None = None
    breadcrumbs: Annotated[list[MsgspecCrumb], msgspec.Meta(max_length=30)] | None = None
    request_ids: (
        Annotated[
            list[Annotated[str, msgspec.Meta(pattern=REQUEST_ID_PATTERN)]],
            msgspec.Meta(max_length=10),
        ]
        | None
    ) = None
    ts: int | float | None = None


_MSGSPEC = msgspec.json.Decoder(MsgspecReport)


def msgspec_report(body: bytes) -> MsgspecReport:
    """Decode and check ``body`` with msgspec, plus the two rules msgspec cannot state."""
    report = _MSGSPEC.decode(body)
    if report.release is not None and ".." in report.release:
        raise ValueError("release")
    for crumb in report.breadcrumbs or ():
        if len(orjson.dumps(crumb.data)) > MAX_BREADCRUMB_BYTES:
            raise ValueError("breadcrumb data")
    return report


VARIANTS: dict[str, Callable[[bytes], object]] = {
    "handwritten": lambda body: handwritten.parse_report(orjson.loads(body)),
    "pydantic": lambda body: ClientErrorReport.model_validate(orjson.loads(body)),
    "pydantic-json": ClientErrorReport.model_validate_json,
    "msgspec": msgspec_report,
}


def cpu_us(fn: Callable[[bytes], object], body: bytes, iterations: int) -> float:
    """CPU microseconds per call of ``fn(body)``."""
    start = time.process_time()
    for _ in range(iterations):
        fn(body)
    return (time.process_time() - start) / iterations * 1e6


def main() -> int:
    """Run every variant in interleaved rounds and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=20_000)
    args = parser.parse_args()
    positions = [(1, 100 + 37 * i) for i in range(12)]
    body = make_report("http://127.0.0.1:8080", positions, "bench-release-1")
    for fn in VARIANTS.values():  # each accepts the report (or raises), and is warm
        fn(body)
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, fn in VARIANTS.items():
            samples[name].append(cpu_us(fn, body, args.iterations))
    reference = statistics.median(samples["handwritten"])
    print(f"report: {len(body)} bytes; {args.rounds} rounds of {args.iterations} validations")
    print(f"{'variant':<15}{'CPU us/report':>15}{'vs handwritten':>16}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<15}{median:>15.1f}{median / reference:>16.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
