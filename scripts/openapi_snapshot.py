#!/usr/bin/env python3
"""Write the site's OpenAPI document: the BFF's own, with the upstream operations merged in.

The BFF's `/openapi.json` documents its proxy routes but not what the upstreams send through
them. The site's typed client needs both, so this script takes the BFF's document (built from
the route table) and adds every upstream operation under the public prefix of the route that
serves it: the orders service's from its FastAPI app, the catalog's from the hand-written
description in `upstreams/django_api/catalog/openapi.py`. Upstream schemas are renamed with the
route's name (`Orders` + `Order` -> `OrdersOrder`), and the errors the BFF itself can answer on
such a path (400, 413, 414, 431, 502, 503, 504) are added where the upstream does not document
the status.

    .venv/bin/python scripts/openapi_snapshot.py            # writes web/openapi/bff.json
    .venv/bin/python scripts/openapi_snapshot.py --check    # exit 1 if the file is stale

`cd web && npm run gen:api` runs this and regenerates `web/src/lib/bff-api.d.ts` from it.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "web" / "openapi" / "bff.json"
SCHEMA_REF_PREFIX = "#/components/schemas/"
# Upstream URLs only decide where the BFF connects, never what the document says.
DOCUMENT_ENV = {
    "BFF_UPSTREAM_CATALOG_URL": "http://127.0.0.1:8001",
    "BFF_UPSTREAM_ORDERS_URL": "http://127.0.0.1:8002",
}
# Statuses the BFF itself may answer on any proxied operation (see docs/proxy.md): the edge's
# 400/414/431 and the proxy's 413/502/503/504.
BFF_STATUSES = ("400", "413", "414", "431", "502", "503", "504")


def catalog_document() -> dict[str, Any]:
    """The catalog service's hand-written OpenAPI document."""
    sys.path.insert(0, str(ROOT / "upstreams" / "django_api"))
    document: dict[str, Any] = importlib.import_module("catalog.openapi").build_document()
    return document


def orders_document() -> dict[str, Any]:
    """The orders service's OpenAPI document, as its FastAPI app serves it."""
    sys.path.insert(0, str(ROOT / "upstreams" / "fastapi_api"))
    app_module = importlib.import_module("orders_service.app")
    settings = importlib.import_module("orders_service.config").Settings(test_endpoints=False)
    document: dict[str, Any] = app_module.create_app(settings).openapi()
    return document


UPSTREAM_DOCUMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "catalog": catalog_document,
    "orders": orders_document,
}


def rename_schema_refs(node: Any, prefix: str) -> Any:
    """A copy of ``node`` with every ``#/components/schemas/X`` reference renamed to prefix+X."""
    if isinstance(node, dict):
        renamed = {key: rename_schema_refs(value, prefix) for key, value in node.items()}
        ref = renamed.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF_PREFIX):
            renamed["$ref"] = SCHEMA_REF_PREFIX + prefix + ref.removeprefix(SCHEMA_REF_PREFIX)
        return renamed
    if isinstance(node, list):
        return [rename_schema_refs(value, prefix) for value in node]
    return node


def public_path(upstream_path: str, upstream_prefix: str, prefix: str) -> str | None:
    """The BFF path that reaches ``upstream_path``, or None when the route does not cover it."""
    if upstream_path == upstream_prefix:
        return prefix
    if upstream_prefix == "" or upstream_path.startswith(upstream_prefix + "/"):
        return prefix + upstream_path.removeprefix(upstream_prefix)
    return None


def merge_upstream(
    document: dict[str, Any], route: Any, upstream_doc: dict[str, Any]
) -> dict[str, Any]:
    """Add the operations of ``upstream_doc`` that ``route`` serves to ``document``."""
    schema_prefix = route.name.capitalize()
    generic = document["paths"][route.prefix + "/{path}"]
    request_id_param = next(p for p in generic["parameters"] if p["name"] == "X-Request-ID")
    any_method = next(op for key, op in generic.items() if key != "parameters")
    bff_responses = {s: any_method["responses"][s] for s in BFF_STATUSES}
    upstream_doc = rename_schema_refs(upstream_doc, schema_prefix)

    for upstream_path, path_item in upstream_doc.get("paths", {}).items():
        path = public_path(upstream_path, route.target_prefix, route.prefix)
        if path is None:
            continue
        merged: dict[str, Any] = {}
        for method, operation in path_item.items():
            if method.upper() not in route.methods:
                continue
            operation = copy.deepcopy(operation)
            operation["operationId"] = f"{route.name}_{operation['operationId']}"
            operation["tags"] = [route.name]
            operation["parameters"] = [*operation.get("parameters", []), request_id_param]
            responses = operation["responses"]
            for status, response in bff_responses.items():
                responses.setdefault(status, copy.deepcopy(response))
            operation["responses"] = dict(sorted(responses.items()))
            merged[method] = operation
        if merged:
            document["paths"][path] = merged

    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in upstream_doc.get("components", {}).get("schemas", {}).items():
        schemas[schema_prefix + name] = schema
    return document


def build_site_document() -> dict[str, Any]:
    """The BFF's OpenAPI document with every upstream operation merged in."""
    from bff.openapi import build_document
    from bff.settings import load_settings

    settings = load_settings(DOCUMENT_ENV)
    document = build_document(settings)
    for route in sorted(settings.routes, key=lambda r: r.prefix):
        load = UPSTREAM_DOCUMENTS.get(route.upstream.name)
        if load is not None:
            merge_upstream(document, route, load())
    document["paths"] = dict(sorted(document["paths"].items()))
    document["info"]["description"] += (
        " Operations under a route prefix are the upstream's own, merged in by "
        "scripts/openapi_snapshot.py; any other path under the prefix is passed through."
    )
    return document


def render(document: dict[str, Any]) -> str:
    """The document as written to disk: indented JSON with a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the snapshot; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=OUTPUT, help="file to write")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs")
    args = parser.parse_args(argv)
    text = render(build_site_document())
    output: Path = args.output
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            print(f"{output} is stale: run `cd web && npm run gen:api`", file=sys.stderr)
            return 1
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
