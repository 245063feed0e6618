"""The site's committed API snapshot and generated types match what the code produces now."""

from __future__ import annotations

import difflib
import json
import subprocess
from pathlib import Path

from openapi_spec_validator import validate

from scripts import openapi_snapshot

from .procs import ROOT

WEB = ROOT / "web"
REGENERATE = "cd web && npm run gen:api"


def _diff(expected: str, actual: str, name: str) -> str:
    lines = difflib.unified_diff(
        expected.splitlines(),
        actual.splitlines(),
        f"{name} (committed)",
        f"{name} (now)",
        lineterm="",
    )
    return "\n".join(list(lines)[:40])


def test_snapshot_matches_the_bff_and_upstream_documents() -> None:
    committed = openapi_snapshot.OUTPUT.read_text(encoding="utf-8")
    now = openapi_snapshot.render(openapi_snapshot.build_site_document())
    assert committed == now, (
        f"web/openapi/bff.json is stale; regenerate it with `{REGENERATE}`\n"
        + _diff(committed, now, "bff.json")
    )


def test_snapshot_is_valid_openapi_and_covers_the_site_calls() -> None:
    document = json.loads(openapi_snapshot.OUTPUT.read_text(encoding="utf-8"))
    validate(document)
    paths = document["paths"]
    assert {"get", "post"} <= set(paths["/api/catalog/items"])
    assert "get" in paths["/api/catalog/items/{item_id}"]
    assert {"get", "post"} <= set(paths["/api/orders"])
    assert "get" in paths["/api/orders/{order_id}"]
    create = paths["/api/orders"]["post"]["responses"]
    # The upstream's own errors, and the BFF's when the upstream cannot be reached.
    assert {"201", "409", "422", "502", "503", "504"} <= set(create)


def test_generated_types_match_the_snapshot(tmp_path: Path) -> None:
    out = tmp_path / "bff-api.d.ts"
    subprocess.run(
        [
            str(WEB / "node_modules" / ".bin" / "openapi-typescript"),
            "openapi/bff.json",
            "-o",
            str(out),
        ],
        cwd=WEB,
        check=True,
        capture_output=True,
        timeout=120,
    )
    committed = (WEB / "src" / "lib" / "bff-api.d.ts").read_text(encoding="utf-8")
    now = out.read_text(encoding="utf-8")
    assert committed == now, (
        f"web/src/lib/bff-api.d.ts is stale; regenerate it with `{REGENERATE}`\n"
        + _diff(committed, now, "bff-api.d.ts")
    )


def test_check_mode_names_the_command(tmp_path: Path) -> None:
    stale = tmp_path / "bff.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert openapi_snapshot.main(["--check", "--output", str(stale)]) == 1
    assert openapi_snapshot.main(["--check"]) == 0
