"""scripts/lock_check.py: the committed locks match their inputs; each kind of drift is caught."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from scripts import lock_check


def test_committed_locks_match_their_inputs() -> None:
    names = sorted(p.stem for p in lock_check.REQUIREMENTS.glob("*.in"))
    assert {"bff", "upstreams", "dev", "build", "emulator"} <= set(names)
    assert {name: lock_check.check(name) for name in names} == {name: [] for name in names}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _strip_hashes(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line.removesuffix(" \\") for line in lines if "--hash=" not in line]
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")


DRIFTS: list[tuple[str, Callable[[Path], None], str, str]] = [
    (
        "a pin changed in the input",
        lambda d: _edit(d / "bff.in", "orjson==3.13.0", "orjson==3.12.0"),
        "bff",
        "orjson is 3.13.0, bff.in pins 3.12.0",
    ),
    (
        "a pin added to the input",
        lambda d: _edit(d / "bff.in", "redis==8.1.0", "redis==8.1.0\nrich==14.0.0"),
        "bff",
        "rich is missing",
    ),
    (
        "a pin removed from the input",
        lambda d: _edit(d / "bff.in", "redis==8.1.0\n", ""),
        "bff",
        "redis is neither pinned in bff.in nor needed",
    ),
    (
        "a range instead of a pin",
        lambda d: _edit(d / "upstreams.in", "django==5.2.19", "django>=5.2"),
        "upstreams",
        "is not pinned with ==",
    ),
    (
        "an entry without hashes",
        lambda d: _strip_hashes(d / "build.txt"),
        "build",
        "setuptools has no hashes",
    ),
    (
        "a version apart from the lock it is constrained by",
        lambda d: _edit(d / "bff.txt", "gunicorn==27.0.1", "gunicorn==27.0.0"),
        "upstreams",
        "gunicorn 27.0.1, bff.txt has 27.0.0",
    ),
]


@pytest.mark.parametrize(("what", "drift", "name", "message"), DRIFTS, ids=[d[0] for d in DRIFTS])
def test_drift_is_reported(
    tmp_path: Path, what: str, drift: Callable[[Path], None], name: str, message: str
) -> None:
    directory = tmp_path / "requirements"
    shutil.copytree(lock_check.REQUIREMENTS, directory)
    assert lock_check.check(name, directory) == []
    drift(directory)
    problems = lock_check.check(name, directory)
    assert any(message in problem for problem in problems), (what, problems)
