"""Schemathesis, a client no one here wrote, against the BFF's own ``/openapi.json``.

The BFF runs under gunicorn with the real Django and FastAPI services behind it, a real
redis-server for the error-group index and an ops token, so every operation answers for real.
``st run`` generates requests from the document (examples, coverage and fuzzing phases, a bounded
number of examples per operation) and applies every check it has; any mismatch between what the
BFF answers and what its document says fails the test with schemathesis' own report.

Every operation of the document is exercised, with every check. Two kinds of operation have a
check adjusted, in ``CONFIG`` below, each with its reason:

* the proxied catch-alls (``/api/catalog/{path}``, ``/api/orders/{path}``): the BFF forwards any
  path below the prefix and the upstream decides what it serves, so a path that matches the
  document may still be refused by the upstream (400, 405, 422) and its 405 carries the
  upstream's ``Allow`` for that resource, not the route's method list. The BFF's own answers
  stay checked: ``schemathesis_hooks.py`` adds a check that fails when the BFF itself (a
  ``urn:bff:problem:`` type) refuses a request the document allows there;
* the Sentry envelope: its body is newline-delimited framing that no JSON schema can state, so a
  string that matches the documented schema may still be refused with a 400 ``bad-envelope``.

The run uses one worker: CPython 3.11's ``ast.parse``, which hypothesis calls to describe its
strategies, is not safe across threads (SystemError "AST constructor recursion depth mismatch").
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .procs import BIN, Service, start_bff

#: The BFF's own check for the proxied routes (it never refuses what the document allows there).
HOOKS = Path(__file__).resolve().parent / "schemathesis_hooks.py"
#: Per-operation adjustments of schemathesis' checks (see the module docstring for why).
CONFIG = """
[[operations]]
include-path-regex = "^/api/(catalog|orders)/[{]path[}]$"
checks.positive_data_acceptance.expected-statuses = [
  "2xx", "3xx", 400, 401, 403, 404, 405, 409, 422, 429, "5xx",
]
checks.allow_header_conformance.enabled = false

[[operations]]
include-path = "/api/client-errors/envelope"
checks.positive_data_acceptance.expected-statuses = [
  "2xx", "3xx", 400, 401, 403, 404, 409, 429, "5xx",
]
"""
TOKEN = "schemathesis-ops-token-0123456789abcdef"
MAX_EXAMPLES = 25
#: Bound for the whole run on two shared cores (it takes about a minute when the machine is quiet).
RUN_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def schema_bff(log_dir: Path, bff_env: dict[str, str], redis_url: str) -> Iterator[Service]:
    # log shipping to the emulator as in the other integration tests, so the incident view
    # reads CloudWatch for real
    svc = start_bff(
        log_dir,
        {
            **bff_env,
            "BFF_ENV": "test",
            # the generated requests without a token would soon be answered 429 by the limit
            # on failed ops logins (documented; tested in bff/tests/test_ops.py), where the
            # auth checks expect the 401 each of them deserves
            "BFF_OPS_AUTH_RATE": "100000/minute",
            "BFF_OPS_TOKEN": TOKEN,
            "BFF_OPS_CACHE_SECONDS": "0",
            "BFF_RATELIMIT_STORAGE_URI": redis_url,
            # generated requests come fast from one client: the limits answer 429 (documented)
            # often enough to be exercised without starving the other operations
            "BFF_CLIENT_ERRORS_RATE": "600/minute",
            "BFF_CLIENT_ERRORS_FINGERPRINT_RATE": "600/minute",
            "BFF_VITALS_RATE": "600/minute",
        },
        name="bff-schemathesis",
    )
    yield svc
    svc.stop()
    assert not svc.crashes(), svc.crashes()


def test_schemathesis_finds_no_mismatch(schema_bff: Service, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    argv = [
        str(BIN / "st"),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{schema_bff.url}/openapi.json",
        # no --checks: every check is on by default, and a command-line list would override
        # the per-operation settings of CONFIG
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--seed",
        "14",
        "--generation-database",
        "none",
        "--request-timeout",
        "20",
        "--header",
        f"Authorization: Bearer {TOKEN}",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "NO_COLOR": "1"}
    done = subprocess.run(
        argv,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    sys.stdout.write(done.stdout[-20_000:])
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-4_000:]
    assert not schema_bff.crashes(), schema_bff.crashes()
