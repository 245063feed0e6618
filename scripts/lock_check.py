"""Check that every lock file in requirements/ matches its input, without a network.

``make lock`` resolves each ``requirements/<name>.in`` (the direct pins) into ``<name>.txt``
(every transitive dependency, with hashes). This check fails when an input changed and its lock
was not regenerated:

* every pin of an input (and of the inputs it includes with ``-r``) is ``name==version``, and
  the lock holds the same version;
* every locked package carries hashes and is wanted: pinned by the input, or required by another
  locked package (uv's ``# via`` notes), so a pin removed from an input leaves no stale entry;
* a lock shares the versions of the locks its input names with ``-c``.

Run by ``make lock-check`` (part of ``make test``) and by the pre-commit hook.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
GENERATED_BY = "make lock"

_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*(?:\[[^\]]*\])?)==([^\s;\\]+)")
_VIA_INLINE = re.compile(r"^\s+#\s+via\s+(\S.*)$")
_VIA_ITEM = re.compile(r"^\s+#\s{3}(\S.*)$")


@dataclass
class Input:
    """The direct pins of an input file (with those of its ``-r`` includes) and its ``-c`` locks."""

    pins: dict[str, str] = field(default_factory=dict)
    constraints: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class Lock:
    """A generated lock: version, hash count and ``via`` sources per package."""

    versions: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, int] = field(default_factory=dict)
    via: dict[str, list[str]] = field(default_factory=dict)
    header: str = ""


def read_input(path: Path, into: Input | None = None) -> Input:
    """Parse ``path`` and its ``-r`` includes (``-c`` files are recorded, not read)."""
    result = into if into is not None else Input()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{path.parent.name}/{path.name}:{number}"
        if line.startswith(("-r ", "--requirement ")):
            read_input(path.parent / line.split(None, 1)[1], result)
            continue
        if line.startswith(("-c ", "--constraint ")):
            if into is None:  # only the input's own constraints, not those of what it includes
                result.constraints.append(path.parent / line.split(None, 1)[1])
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            result.problems.append(f"{where}: not a requirement: {line!r} ({exc})")
            continue
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
            result.problems.append(f"{where}: {line!r} is not pinned with ==")
            continue
        result.pins[canonicalize_name(req.name)] = specs[0].version
    return result


def read_lock(path: Path) -> Lock:
    """Parse a lock written by ``uv pip compile --generate-hashes``."""
    lock = Lock()
    current: str | None = None
    in_via = False
    lines = path.read_text(encoding="utf-8").splitlines()
    lock.header = "\n".join(lines[:2])
    for line in lines:
        entry = _ENTRY.match(line)
        if entry:
            current = canonicalize_name(re.sub(r"\[.*\]", "", entry.group(1)))
            lock.versions[current] = entry.group(2)
            lock.hashes[current] = 0
            lock.via[current] = []
            in_via = False
            continue
        if current is None:
            continue
        if "--hash=" in line:
            lock.hashes[current] += line.count("--hash=")
        elif (inline := _VIA_INLINE.match(line)) is not None:
            lock.via[current].append(inline.group(1).strip())
        elif re.match(r"^\s+#\s+via\s*$", line):
            in_via = True
        elif in_via and (item := _VIA_ITEM.match(line)) is not None:
            lock.via[current].append(item.group(1).strip())
        else:
            in_via = False
    return lock


def check(name: str, directory: Path = REQUIREMENTS) -> list[str]:
    """Everything that makes ``<directory>/<name>.txt`` disagree with ``<name>.in``."""
    source = directory / f"{name}.in"
    target = directory / f"{name}.txt"
    label = f"{directory.name}/{target.name}"
    if not target.exists():
        return [f"{label} is missing: run `{GENERATED_BY}`"]
    wanted = read_input(source)
    lock = read_lock(target)
    problems = list(wanted.problems)
    if GENERATED_BY not in lock.header:
        problems.append(f"{label} was not written by `{GENERATED_BY}`")
    for package, version in sorted(wanted.pins.items()):
        locked = lock.versions.get(package)
        if locked != version:
            problems.append(
                f"{label}: {package} is {locked or 'missing'}, {source.name} pins {version}"
            )
    for package, count in sorted(lock.hashes.items()):
        if count == 0:
            problems.append(f"{label}: {package} has no hashes")
        parents = [canonicalize_name(re.sub(r"\[.*\]", "", v)) for v in lock.via[package]]
        if package not in wanted.pins and not any(p in lock.versions for p in parents):
            problems.append(f"{label}: {package} is neither pinned in {source.name} nor needed")
    for constraint in wanted.constraints:
        other = read_lock(constraint)
        for package, version in sorted(lock.versions.items()):
            theirs = other.versions.get(package)
            if theirs is not None and theirs != version:
                problems.append(f"{label}: {package} {version}, {constraint.name} has {theirs}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Check the named locks (default: every requirements/*.in); 1 and a list when stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="lock names, e.g. bff dev (default: all)")
    args = parser.parse_args(argv)
    names = args.names or sorted(p.stem for p in REQUIREMENTS.glob("*.in"))
    problems = [problem for name in names for problem in check(name)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"lock files do not match their inputs: run `{GENERATED_BY}`", file=sys.stderr)
        return 1
    print(f"{len(names)} lock files match their inputs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
