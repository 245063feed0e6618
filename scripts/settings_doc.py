#!/usr/bin/env python
"""Print the tables of environment variables from the services' settings models, or keep the
docs' copies of them current.

Each service reads its environment through one pydantic-settings model (``bff.settings``,
``logship.config``, the orders and catalog services' ``config`` modules); a field's alias is its
variable and its description the variable's documentation. The docs hold the tables between
``<!-- settings-table: NAME -->`` and ``<!-- /settings-table -->`` lines.

Usage::

    python scripts/settings_doc.py            # print every table
    python scripts/settings_doc.py --check    # exit 1 when a doc's table differs from the models
    python scripts/settings_doc.py --write    # rewrite the tables in the docs
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import typing
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[1]
DOCS = (
    ROOT / "docs" / "configuration.md",
    ROOT / "lib" / "logship" / "README.md",
    ROOT / "upstreams" / "README.md",
)
BLOCK = re.compile(
    r"(?P<open><!-- settings-table: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)"
    r"(?P<close><!-- /settings-table -->)",
    re.DOTALL,
)


def _import_services() -> None:
    """Put the sample services' packages on the path (they are not installed)."""
    for service in ("fastapi_api", "django_api"):
        path = str(ROOT / "upstreams" / service)
        if path not in sys.path:
            sys.path.insert(0, path)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def shown_default(field: FieldInfo) -> str:
    """The default as the docs show it."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("shown"), str):
        return f"`{extra['shown']}`"
    if isinstance(extra, dict) and isinstance(text := extra.get("shown_text"), str):
        return text
    default = field.default
    if default is PydanticUndefined:
        return "required"
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, int | float):
        return f"`{_number(default)}`"
    if isinstance(default, tuple):
        return f"`{','.join(str(item) for item in default)}`"
    return f"`{default}`"


def allowed_values(field: FieldInfo) -> str:
    """What the variable accepts, from the field's type and bounds (blank when the description
    says it)."""
    kind = field.annotation
    if typing.get_origin(kind) is typing.Literal:
        return ", ".join(f"`{arg}`" for arg in typing.get_args(kind))
    if kind is bool:
        return "true/false (1/0, yes/no, on/off)"
    low = high = None
    for item in field.metadata:
        if isinstance(item, Ge | Gt):
            low = item.ge if isinstance(item, Ge) else item.gt
        elif isinstance(item, Le | Lt):
            high = item.le if isinstance(item, Le) else item.lt
    if kind in (int, float) and low is not None and high is not None:
        noun = "integer" if kind is int else "number"
        return f"{noun}, {_number(low)} to {_number(high)}"
    return ""


Row = tuple[str, ...]


def rows(model: type[BaseModel], *, nested: bool = True) -> list[Row]:
    """``(variable, default, allowed, meaning)`` for each variable of ``model``."""
    from logship.config import env_variables

    found: list[Row] = []
    for name, field in env_variables(model):
        if not nested and name not in _own_variables(model):
            continue
        found.append(
            (f"`{name}`", shown_default(field), allowed_values(field), field.description or "")
        )
    return found


def _own_variables(model: type[BaseModel]) -> set[str]:
    from logship.config import env_variables

    own: set[str] = set()
    for field in model.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, str):
            own.add(alias)
        elif alias is not None:
            own.update(str(choice) for choice in getattr(alias, "choices", ()))
    return own & {name for name, _ in env_variables(model)}


def table(header: Sequence[str], body: Iterable[Row]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


HEADER = ("variable", "default", "values", "meaning")


def bff_main() -> str:
    """The BFF's own variables, with the upstream URLs the packaged route table needs."""
    from bff.settings import Settings, load_route_document

    upstreams = load_route_document(None).get("upstreams", {})
    body = [
        (
            f"`BFF_UPSTREAM_{name.upper()}_URL`",
            "required",
            "`http(s)://host[:port][/base]`",
            f"base URL of upstream `{name}` (one variable per upstream of the route table; "
            "no credentials, query or placeholder)",
        )
        for name in upstreams
    ]
    return table(HEADER, body + rows(Settings, nested=False))


def bff_section(name: str) -> Callable[[], str]:
    """One section of the BFF's model (``server``, ``edge``, ``client_errors``)."""

    def render() -> str:
        from bff.settings import Settings

        section = Settings.model_fields[name].annotation
        if not (isinstance(section, type) and issubclass(section, BaseModel)):
            raise TypeError(f"Settings.{name} is not a section")
        return table(HEADER, rows(section))

    return render


def logship_table() -> str:
    """Every ``LOG_*`` variable (and the AWS region)."""
    from logship.config import LogSettings

    return table(HEADER, rows(LogSettings))


def upstreams_table() -> str:
    """The sample services' own variables (logship's are in its README)."""
    _import_services()
    catalog = importlib.import_module("catalog_project.config").CatalogSettings
    orders = importlib.import_module("orders_service.config").Settings
    body: list[Row] = []
    for service, model in (("catalog", catalog), ("orders", orders)):
        for variable, default, allowed, meaning in rows(model, nested=False):
            body.append((variable, service, default, allowed, meaning))
    return table(("variable", "service", "default", "values", "meaning"), body)


TABLES: dict[str, Callable[[], str]] = {
    "bff": bff_main,
    "bff-server": bff_section("server"),
    "bff-edge": bff_section("edge"),
    "bff-client-errors": bff_section("client_errors"),
    "logship": logship_table,
    "upstreams": upstreams_table,
}


def render(text: str, tables: dict[str, str]) -> str:
    """``text`` with every settings block replaced by its current table."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in tables:
            raise SystemExit(f"unknown settings table {name!r}; known: {', '.join(tables)}")
        return match.group("open") + tables[name] + match.group("close")

    return BLOCK.sub(replace, text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail when a doc is out of date")
    mode.add_argument("--write", action="store_true", help="rewrite the docs' tables")
    args = parser.parse_args(argv)
    tables = {name: make() for name, make in TABLES.items()}
    if not (args.check or args.write):
        for name, text in tables.items():
            print(f"<!-- settings-table: {name} -->\n{text}<!-- /settings-table -->\n")
        return 0
    stale: list[str] = []
    seen: set[str] = set()
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        seen.update(match.group("name") for match in BLOCK.finditer(text))
        current = render(text, tables)
        if current != text:
            stale.append(str(path.relative_to(ROOT)))
            if args.write:
                path.write_text(current, encoding="utf-8")
    missing = sorted(set(tables) - seen)
    if missing:
        print(f"settings tables in no doc: {', '.join(missing)}", file=sys.stderr)
        return 1
    if stale and args.check:
        print(
            f"out of date with the settings models: {', '.join(stale)} "
            "(run: python scripts/settings_doc.py --write)",
            file=sys.stderr,
        )
        return 1
    for path_text in stale:
        print(f"rewrote {path_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
