"""Symbolication: path safety, the map cache, and real esbuild source maps."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from bff.client_errors.stack import Frame, parse_stack
from bff.client_errors.symbolicate import (
    DirectoryMaps,
    SourceMaps,
    Symbolicator,
    is_safe_release,
    map_path_for,
    source_name,
)

ROOT = Path(__file__).resolve().parents[2]
ESBUILD = ROOT / "web" / "node_modules" / ".bin" / "esbuild"
ORIGINS = {"https://shop.example"}
SOURCE = """\
export function computeTotal(items: number[]): number {
  let total = 0;
  for (const item of items) {
    total += item;
  }
  if (total > 10) {
    throw new TypeError("total too large: " + total);
  }
  return total;
}
export function checkout(): number {
  return computeTotal([5, 6, 7]);
}
(globalThis as { checkout?: () => number }).checkout = checkout;
"""
THROW_LINE = 7  # 1-based line of the throw in SOURCE


def build_bundle(workdir: Path) -> tuple[str, bytes]:
    """Minified bundle text and its source map, built by esbuild from SOURCE."""
    src = workdir / "checkout.ts"
    src.write_text(SOURCE, encoding="utf-8")
    out = workdir / "out.js"
    subprocess.run(  # noqa: S603 - fixed argv
        [str(ESBUILD), str(src), "--bundle", "--minify", "--sourcemap", f"--outfile={out}"],
        check=True,
        capture_output=True,
    )
    return out.read_text(encoding="utf-8"), (workdir / "out.js.map").read_bytes()


def position_of(bundle: str, needle: str) -> tuple[int, int]:
    """1-based line and column of ``needle`` in the bundle."""
    for number, line in enumerate(bundle.splitlines(), start=1):
        column = line.find(needle)
        if column >= 0:
            return number, column + 1
    raise AssertionError(needle)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    return build_bundle(tmp_path_factory.mktemp("esbuild"))


@pytest.fixture
def maps_dir(tmp_path: Path, bundle: tuple[str, bytes]) -> Path:
    target = tmp_path / "maps" / "rel-1" / "_next" / "static" / "chunks" / "app.js.map"
    target.parent.mkdir(parents=True)
    target.write_bytes(bundle[1])
    return tmp_path / "maps"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://shop.example/_next/static/chunks/app.js", "_next/static/chunks/app.js.map"),
        ("/_next/static/chunks/app.js?v=1#x", "_next/static/chunks/app.js.map"),
        (
            "https://shop.example/_next/static/BUILD/_buildManifest.js",
            "_next/static/BUILD/_buildManifest.js.map",
        ),
        ("https://shop.example/_next/static/chunks/app.mjs", "_next/static/chunks/app.mjs.map"),
        ("https://cdn.other/_next/static/chunks/app.js", None),
        ("http://shop.example/_next/static/chunks/app.js", None),
        ("https://shop.example/_next/static/../../etc/passwd.js", None),
        ("https://shop.example/_next/static/chunks/%2e%2e/x.js", None),
        ("https://shop.example/_next/static/chunks/..%2fx.js", None),
        ("/_next/static/chunks\\..\\x.js", None),
        ("/_next/static//chunks/app.js", None),
        ("/_next/static/chunks/app.css", None),
        ("/products/1", None),
        ("file:///_next/static/chunks/app.js", None),
        ("chrome-extension://abc/_next/static/chunks/app.js", None),
        ("/_next/static/chunks/./app.js", None),
    ],
)
def test_map_path_safety(url: str, expected: str | None) -> None:
    assert map_path_for(url, ORIGINS) == expected


@pytest.mark.parametrize(
    ("release", "safe"),
    [
        ("abc_123-X.y", True),
        ("..", False),
        ("a/b", False),
        ("", False),
        (".hidden", False),
        ("a..b", False),
        ("x" * 129, False),
        (None, False),
    ],
)
def test_release_tokens(release: str | None, safe: bool) -> None:
    assert is_safe_release(release) is safe


def test_directory_maps_stay_under_the_root(tmp_path: Path) -> None:
    root = tmp_path / "maps"
    (root / "rel").mkdir(parents=True)
    secret = tmp_path / "secret.map"
    secret.write_text("{}")
    os.symlink(secret, root / "rel" / "link.js.map")
    store = DirectoryMaps(root)
    assert store.fetch("rel", "link.js.map") is None  # symlink out of the root
    assert store.fetch("..", "secret.map") is None
    assert store.fetch("rel", "missing.js.map") is None


def test_real_map_gives_original_file_line_and_function(
    bundle: tuple[str, bytes], maps_dir: Path
) -> None:
    text, _ = bundle
    line, column = position_of(text, "throw ")
    caller_line, caller_column = position_of(text, "([5,6,7])")
    # The call expression starts at the minified callee's name, just before "(".
    caller_column -= 1
    stack = (
        "TypeError: total too large: 18\n"
        f"    at e (https://shop.example/_next/static/chunks/app.js:{line}:{column})\n"
        f"    at checkout (https://shop.example/_next/static/chunks/app.js:{caller_line}:{caller_column})"
    )
    frames = parse_stack(stack)
    Symbolicator(SourceMaps(DirectoryMaps(maps_dir))).symbolicate(frames, "rel-1", ORIGINS)
    top = frames[0]
    assert top.status == "symbolicated"
    assert top.file is not None and top.file.endswith("checkout.ts")
    assert top.line == THROW_LINE
    assert top.function == "computeTotal"
    assert top.minified == {
        "file": "https://shop.example/_next/static/chunks/app.js",
        "line": line,
        "column": column,
    }
    assert frames[1].status == "symbolicated" and frames[1].line == 12


@pytest.mark.parametrize(
    ("frame", "release", "status"),
    [
        pytest.param(
            Frame("f", "https://shop.example/_next/static/chunks/app.js", 1, 5),
            None,
            "no-release",
            id="no-release",
        ),
        pytest.param(
            Frame("f", "https://shop.example/_next/static/chunks/gone.js", 1, 5),
            "rel-1",
            "no-map",
            id="no-map",
        ),
        pytest.param(
            Frame("f", "https://shop.example/_next/static/chunks/bad.js", 1, 5),
            "rel-1",
            "map-unreadable",
            id="unreadable",
        ),
        pytest.param(
            Frame("f", "https://shop.example/_next/static/chunks/app.js", 999, 5),
            "rel-1",
            "not-in-map",
            id="not-in-map",
        ),
        pytest.param(
            Frame("f", "https://shop.example/products/1", 3, 5),
            "rel-1",
            "not-minified",
            id="inline-script",
        ),
        pytest.param(Frame("f", None, None, None), "rel-1", "not-minified", id="native"),
        pytest.param(Frame("f", "https://cdn.other/lib.js", 1, 5), "rel-1", "no-map", id="foreign"),
    ],
)
def test_frame_statuses(maps_dir: Path, frame: Frame, release: str | None, status: str) -> None:
    (maps_dir / "rel-1" / "_next" / "static" / "chunks" / "bad.js.map").write_text("{not a map")
    Symbolicator(SourceMaps(DirectoryMaps(maps_dir))).symbolicate([frame], release, ORIGINS)
    assert frame.status == status


def test_no_maps_configured_means_no_map() -> None:
    frame = Frame("f", "/_next/static/chunks/app.js", 1, 5)
    Symbolicator(None).symbolicate([frame], "rel-1", ORIGINS)
    assert frame.status == "no-map"


class CountingStore:
    """A map store that counts fetches (the one fake edge here)."""

    def __init__(self, maps: dict[tuple[str, str], bytes]) -> None:
        self.maps = maps
        self.fetches = 0

    def fetch(self, release: str, path: str) -> bytes | None:
        self.fetches += 1
        return self.maps.get((release, path))


def test_cache_is_bounded_and_remembers_missing_maps(bundle: tuple[str, bytes]) -> None:
    data = bundle[1]
    store = CountingStore({("r", f"{i}.js.map"): data for i in range(4)})
    now = [0.0]
    maps = SourceMaps(
        store, max_maps=2, max_bytes=10 * len(data), negative_ttl=30, clock=lambda: now[0]
    )
    for i in range(4):
        assert not isinstance(maps.get("r", f"{i}.js.map"), str)
    assert maps.cached()["maps"] == 2 and maps.cached()["evicted"] == 2
    assert not isinstance(maps.get("r", "3.js.map"), str)
    assert store.fetches == 4  # hit
    assert maps.get("r", "missing.js.map") == "no-map"
    assert maps.get("r", "missing.js.map") == "no-map"
    assert store.fetches == 5  # negative cache
    now[0] = 31.0
    assert maps.get("r", "missing.js.map") == "no-map"
    assert store.fetches == 6  # expired
    small = SourceMaps(CountingStore({("r", "a"): data}), max_bytes=len(data) - 1)
    assert not isinstance(small.get("r", "a"), str)
    assert small.cached()["maps"] == 0  # larger than the whole budget: used, not kept


def test_map_json_is_valid(bundle: tuple[str, bytes]) -> None:
    assert json.loads(bundle[1])["version"] == 3


@pytest.mark.parametrize(
    ("source", "name"),
    [
        pytest.param("turbopack:///[project]/src/app/page.tsx", "src/app/page.tsx", id="turbopack"),
        pytest.param("webpack://_N_E/./src/app/page.tsx", "src/app/page.tsx", id="webpack-next"),
        pytest.param("webpack:///./src/a.ts", "src/a.ts", id="webpack-empty-name"),
        pytest.param(
            "turbopack:///[project]/node_modules/next/dist/x.js",
            "node_modules/next/dist/x.js",
            id="dependency",
        ),
        pytest.param("src/plain.ts", "src/plain.ts", id="already-plain"),
        pytest.param("turbopack:///[project]/", "turbopack:///[project]/", id="prefix-only-kept"),
    ],
)
def test_source_name_strips_bundler_prefixes(source: str, name: str) -> None:
    assert source_name(source) == name
