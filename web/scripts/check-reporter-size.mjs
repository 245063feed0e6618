// Fails when the browser error reporter costs more than 2 KiB gzipped.
// Bundles src/lib/report-error.ts the way a page ships it (minified, ES2020, tree-shaken,
// React left out) and gzips the result.
import { gzipSync } from "node:zlib";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const LIMIT = 2048;
const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const result = await build({
  // What a page imports; the test-only exports are shaken out, as in the real bundle.
  stdin: {
    contents:
      "export { addBreadcrumb, installErrorReporting, reportError, setReportRoute } from './src/lib/report-error';",
    resolveDir: web,
    loader: "ts",
  },
  bundle: true,
  minify: true,
  treeShaking: true,
  format: "esm",
  target: "es2020",
  platform: "browser",
  write: false,
  external: ["react", "react-dom", "next"],
  define: { "process.env.WEB_RELEASE": JSON.stringify("0123456789abcdefghijk") },
  logLevel: "error",
});

const code = result.outputFiles[0].contents;
const gzipped = gzipSync(code).length;
console.log(`reporter: ${code.length} bytes minified, ${gzipped} bytes gzipped (limit ${LIMIT})`);
if (gzipped > LIMIT) {
  console.error(`reporter is ${gzipped - LIMIT} bytes over its ${LIMIT}-byte gzip budget`);
  process.exit(1);
}
