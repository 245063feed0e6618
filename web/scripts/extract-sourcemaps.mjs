// Moves every source map out of .next/static, where Next.js would serve it, to
// .next/sourcemaps/<BUILD_ID>/_next/static/<script path>.map, which the BFF reads to
// symbolicate browser stack traces (BFF_SOURCEMAPS_DIR, or uploaded to BFF_SOURCEMAPS_S3_URI).
// Turbopack names a chunk's map by its own hash (`a1.js` says `sourceMappingURL=b2.js.map`),
// so each script's map is found through its `sourceMappingURL` comment and stored under the
// script's name. Runs as `postbuild`; fails if a map is left behind.
// The server bundles' maps (never served) are copied into the standalone output, where
// src/lib/server-stack.ts reads them to report server errors in source terms.
import { access, copyFile, mkdir, readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(web, ".next");
const staticDir = path.join(dist, "static");
const MAP_COMMENT = /[#@] sourceMappingURL=([^\s'"*]+)\s*(?:\*\/)?\s*$/;

/** Every file under `dir`, as paths relative to it. */
async function walk(dir, prefix = "") {
  const found = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    if (entry.isDirectory()) found.push(...(await walk(dir, rel)));
    else found.push(rel);
  }
  return found;
}

/** Whether `file` exists. */
async function exists(file) {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** Copy `from` (relative to .next/static) to the release's map directory as `rel`. */
async function store(target, from, rel) {
  const destination = path.join(target, rel);
  await mkdir(path.dirname(destination), { recursive: true });
  await copyFile(path.join(staticDir, from), destination);
}

const release = (await readFile(path.join(dist, "BUILD_ID"), "utf8")).trim();
if (!/^[A-Za-z0-9_-]{1,64}$/.test(release)) {
  console.error(`extract-sourcemaps: unexpected BUILD_ID ${JSON.stringify(release)}`);
  process.exit(1);
}
const target = path.join(dist, "sourcemaps", release, "_next", "static");
const files = await walk(staticDir);
const maps = new Set(files.filter((rel) => rel.endsWith(".map")));
const claimed = new Set();

let stored = 0;
for (const rel of files) {
  if (!rel.endsWith(".js") && !rel.endsWith(".css")) continue;
  const tail = (await readFile(path.join(staticDir, rel), "utf8")).slice(-512);
  const url = MAP_COMMENT.exec(tail)?.[1];
  if (!url || url.includes(":")) continue;
  const mapRel = path.normalize(path.join(path.dirname(rel), decodeURIComponent(url)));
  if (!maps.has(mapRel)) continue;
  await store(target, mapRel, `${rel}.map`);
  claimed.add(mapRel);
  stored += 1;
}
// Maps no script points at keep their own name.
for (const rel of maps) {
  if (!claimed.has(rel)) {
    await store(target, rel, rel);
    stored += 1;
  }
}
for (const rel of maps) await rm(path.join(staticDir, rel));

const left = (await walk(staticDir)).filter((rel) => rel.endsWith(".map"));
if (left.length > 0) {
  console.error(`extract-sourcemaps: maps still under .next/static: ${left.join(", ")}`);
  process.exit(1);
}
const serverDir = path.join(dist, "server");
const standaloneServer = path.join(dist, "standalone", ".next", "server");
let serverMaps = 0;
if (await exists(standaloneServer)) {
  for (const rel of await walk(serverDir)) {
    if (!rel.endsWith(".js.map") || !(await exists(path.join(standaloneServer, rel.slice(0, -4))))) continue;
    await copyFile(path.join(serverDir, rel), path.join(standaloneServer, rel));
    serverMaps += 1;
  }
}

console.log(
  `extract-sourcemaps: ${serverMaps} server maps copied into the standalone output; ` +
    `${maps.size} browser maps moved to .next/sourcemaps/${release}/_next/static ` +
    `(${claimed.size} named after their script, ${stored} files)`,
);
