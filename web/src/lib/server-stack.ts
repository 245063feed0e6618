import "server-only";

import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";

/**
 * Server stack traces in source terms. The server bundles' maps stay on the server
 * (`.next/server/**\/*.js.map`, copied into the standalone output by the postbuild script);
 * only error paths pay for reading them, and parsed maps are kept for the next error.
 */

const FRAME = /^\s*at (?:(.*?) \()?(.+?):(\d+):(\d+)\)?$/;
const PROJECT_PREFIX = /^(?:turbopack:\/\/\/\[project\]\/|file:\/\/)/;
const MAX_CACHED_MAPS = 32;
const cache = new Map<string, SourceMap | null>();

function serverMap(file: string): SourceMap | null {
  const cached = cache.get(file);
  if (cached !== undefined) return cached;
  let map: SourceMap | null = null;
  const absolute = path.resolve(file.replace(/^file:\/\//, ""));
  if (absolute.endsWith(".js") && absolute.includes(`${path.sep}.next${path.sep}server${path.sep}`)) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${absolute}.map`, "utf8")));
    } catch {
      map = null;
    }
  }
  if (cache.size >= MAX_CACHED_MAPS) cache.clear();
  cache.set(file, map);
  return map;
}

/** `stack` with each frame in a server bundle replaced by its original file, line and column. */
export function symbolicateServerStack(stack: string): string {
  return stack
    .split("\n")
    .map((line) => {
      const frame = FRAME.exec(line);
      if (!frame) return line;
      const [, fn, file = "", row = "0", column = "0"] = frame;
      const entry = serverMap(file)?.findEntry(Number(row) - 1, Number(column) - 1);
      if (!entry || !("originalSource" in entry) || !entry.originalSource) return line;
      const source = entry.originalSource.replace(PROJECT_PREFIX, "");
      return `    at ${fn || "<anonymous>"} (${source}:${entry.originalLine + 1}:${entry.originalColumn + 1})`;
    })
    .join("\n");
}
