"""scripts/settings_doc.py: the docs' tables of variables are the settings models' own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scripts import settings_doc

ROOT = Path(__file__).resolve().parents[1]


def test_docs_match_the_settings_models() -> None:
    """Fails when a model's field changed and the docs were not regenerated."""
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "scripts/settings_doc.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_table_names_every_variable_of_its_model() -> None:
    from bff.settings import Settings
    from logship.config import LogSettings, env_variables

    bff = "".join(settings_doc.TABLES[name]() for name in settings_doc.TABLES if "bff" in name)
    assert all(f"`{name}`" in bff for name, _ in env_variables(Settings))
    assert "`BFF_UPSTREAM_CATALOG_URL` | required" in bff
    logship = settings_doc.TABLES["logship"]()
    assert all(f"`{name}`" in logship for name, _ in env_variables(LogSettings))


def test_a_stale_block_is_rewritten_and_the_rest_kept() -> None:
    text = "intro\n<!-- settings-table: x -->\n| old |\n<!-- /settings-table -->\noutro\n"
    assert settings_doc.render(text, {"x": "| new |\n"}) == (
        "intro\n<!-- settings-table: x -->\n| new |\n<!-- /settings-table -->\noutro\n"
    )


def test_an_unknown_block_is_refused() -> None:
    with pytest.raises(SystemExit, match="unknown settings table 'y'"):
        settings_doc.render("<!-- settings-table: y -->\n<!-- /settings-table -->", {"x": ""})


def test_check_and_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- settings-table: a -->\n| stale |\n<!-- /settings-table -->\n")
    monkeypatch.setattr(settings_doc, "TABLES", {"a": lambda: "| a |\n"})
    monkeypatch.setattr(settings_doc, "DOCS", (doc,))
    monkeypatch.setattr(settings_doc, "ROOT", tmp_path)
    assert settings_doc.main(["--check"]) == 1
    assert settings_doc.main(["--write"]) == 0
    assert settings_doc.main(["--check"]) == 0
    assert doc.read_text() == "<!-- settings-table: a -->\n| a |\n<!-- /settings-table -->\n"


def test_a_table_in_no_doc_fails_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("no tables\n")
    monkeypatch.setattr(settings_doc, "TABLES", {"a": lambda: "| a |\n"})
    monkeypatch.setattr(settings_doc, "DOCS", (doc,))
    assert settings_doc.main(["--check"]) == 1
