// The web server's log writer against pino, as ratios to a reference in the same run.
//
//   node scripts/bench-logger.mjs [--pino /path/to/node_modules/pino] [--records 50000]
//
// Every row writes the same access-shaped record, one line per record, synchronously to
// /dev/null: the reference is a bare JSON.stringify of the record; "own" is src/lib/log's logger
// (logship's schema, redaction of every string, size cap) with a known location, "own + caller"
// reads the caller's location from the stack; "pino + rules" is pino with the same
// redaction walk in its `formatters.log` hook (pino's own `redact` takes key paths only, not
// e-mail addresses, card numbers or tokens inside strings); "pino bare" has no redaction at all.
// pino is not a dependency of the site: pass the directory of an installed copy to compare.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

import { build } from "esbuild";

const { values } = parseArgs({
  options: { pino: { type: "string" }, records: { type: "string", default: "50000" }, rounds: { type: "string", default: "5" } },
});
const RECORDS = Number(values.records);
const ROUNDS = Number(values.rounds);
const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const out = mkdtempSync(path.join(tmpdir(), "bench-logger-"));
await build({
  stdin: {
    contents:
      "export { prepare } from './src/lib/log/record'; export { cleanText } from './src/lib/log/scrub';" +
      "export { getLogger, setSink } from './src/lib/log/logger';",
    resolveDir: web,
    loader: "ts",
  },
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  outfile: path.join(out, "record.mjs"),
  alias: { "server-only": path.join(web, "node_modules", "server-only", "empty.js") },
  logLevel: "error",
});
const { prepare, cleanText, getLogger, setSink } = await import(pathToFileURL(path.join(out, "record.mjs")).href);
rmSync(out, { recursive: true, force: true });

const fd = openSync("/dev/null", "w");
const data = (i) => ({
  method: "GET",
  route: "/products/[id]",
  path: `/products/${i % 500}`,
  query: "q=[REDACTED]&page=[REDACTED]",
  status: 200,
  duration_ms: 12.345,
  bytes_out: 24961,
  client_ip: "10.0.3.17",
  user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
  aborted: false,
});
const location = { file: "/app/.next/server/chunks/request-hook.js", line: 1, function: "finish" };
setSink((line) => writeSync(fd, `${line}\n`));
const access = getLogger("web.access");

const rows = {
  reference(i) {
    const line = JSON.stringify({
      timestamp: new Date().toISOString(),
      level: "INFO",
      logger: "web.access",
      message: "GET /products/[id] 200",
      service: "web",
      environment: "production",
      request_id: "0af7651916cd43dd8448eb211c80319c",
      trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
      location,
      data: data(i),
    });
    writeSync(fd, `${line}\n`);
  },
  own(i) {
    // The logger as the request hook uses it (its location is found once, then reused).
    access.log(
      "INFO",
      "GET /products/[id] 200",
      { requestId: "0af7651916cd43dd8448eb211c80319c", traceId: "4bf92f3577b34da6a3ce929d0e0e4736", data: data(i) },
      location,
    );
  },
  "own + caller"(i) {
    // Other records: the caller's file, line and function read from the stack each time.
    access.info("GET /products/[id] 200", {
      requestId: "0af7651916cd43dd8448eb211c80319c",
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      data: data(i),
    });
  },
};

if (values.pino) {
  const require = createRequire(path.join(path.resolve(values.pino), "package.json"));
  const pino = require(path.resolve(values.pino));
  const common = {
    base: { service: "web", environment: "production" },
    messageKey: "message",
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label.toUpperCase() }) },
  };
  const destination = () => pino.destination({ dest: "/dev/null", sync: true });
  const withRules = pino(
    {
      ...common,
      formatters: {
        ...common.formatters,
        log: (object) => prepare(object, 16, { nodes: 0, truncated: false, path: new Set() }),
      },
      hooks: {
        logMethod(args, method) {
          if (typeof args[1] === "string") args[1] = cleanText(args[1]);
          return method.apply(this, args);
        },
      },
    },
    destination(),
  ).child({ logger: "web.access" });
  const bare = pino(common, destination()).child({ logger: "web.access" });
  const fields = (i) => ({
    request_id: "0af7651916cd43dd8448eb211c80319c",
    trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    location,
    data: data(i),
  });
  rows["pino + rules"] = (i) => withRules.info(fields(i), "GET /products/[id] 200");
  rows["pino bare"] = (i) => bare.info(fields(i), "GET /products/[id] 200");
}

function run(write) {
  const started = performance.now();
  for (let i = 0; i < RECORDS; i++) write(i);
  return ((performance.now() - started) * 1000) / RECORDS; // microseconds per record
}

const best = Object.fromEntries(Object.keys(rows).map((name) => [name, Infinity]));
for (const write of Object.values(rows)) run(write); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, write] of Object.entries(rows)) best[name] = Math.min(best[name], run(write));
}
closeSync(fd);

console.log(`log writer, ${RECORDS} records x ${ROUNDS} rounds (best round), node ${process.version}`);
for (const [name, us] of Object.entries(best)) {
  console.log(`  ${name.padEnd(14)} ${us.toFixed(2).padStart(7)} us/record   ${(us / best.reference).toFixed(2)}x reference`);
}
