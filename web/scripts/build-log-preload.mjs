// Bundles src/lib/log/preload.ts into .next/standalone/log-preload.mjs (postbuild): the server
// is started with `node --import ./log-preload.mjs server.js` so that even the lines Next.js
// prints before instrumentation.ts runs are JSON records.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const standalone = path.join(web, ".next", "standalone");
if (!existsSync(standalone)) {
  console.error("build-log-preload: no .next/standalone (output: \"standalone\" is required)");
  process.exit(1);
}

await build({
  entryPoints: [path.join(web, "src", "lib", "log", "preload.ts")],
  outfile: path.join(standalone, "log-preload.mjs"),
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  alias: { "server-only": path.join(web, "node_modules", "server-only", "empty.js") },
  logLevel: "error",
});
console.log("build-log-preload: .next/standalone/log-preload.mjs");
