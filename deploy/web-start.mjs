// Container entry point for the web image: refuse to start on a missing or invalid BFF_URL
// with one line naming it, then run the Next.js standalone server in this same process.
// The rules are those of web/src/lib/env.ts (which, outside production, falls back to
// http://127.0.0.1:8080); in production the variable is required.

const raw = (process.env.BFF_URL ?? "").trim();

function problem() {
  if (!raw) {
    return process.env.NODE_ENV === "production" ? "BFF_URL is required (base URL of the BFF)" : null;
  }
  let url;
  try {
    url = new URL(raw);
  } catch {
    return `BFF_URL must be an absolute http(s) URL, got ${JSON.stringify(raw)}`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `BFF_URL must use http or https, got ${JSON.stringify(raw)}`;
  }
  if (url.search || url.hash || url.username || url.password) {
    return `BFF_URL must not contain credentials, a query or a fragment, got ${JSON.stringify(raw)}`;
  }
  return null;
}

const error = problem();
if (error) {
  process.stderr.write(`web: configuration error: ${error}\n`);
  process.exit(1);
}
await import("./server.js");
