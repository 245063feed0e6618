import { randomBytes } from "node:crypto";
import path from "node:path";
import type { NextConfig } from "next";

// Pin the project root to this directory so the standalone output is
// `.next/standalone/server.js` even inside the monorepo.
const root = path.resolve(__dirname);

const isDev = process.env.NODE_ENV === "development";

// One id per build: `.next/BUILD_ID`, the source map directory
// (`.next/sourcemaps/<id>/`) and the `release` error reports carry. Set WEB_RELEASE
// to choose it (e.g. the git commit); otherwise it is made here once and passed on
// through the environment to the build's worker processes, which load this file again.
const release = (process.env.WEB_RELEASE ||= `${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`);
if (!/^[A-Za-z0-9_-]{1,64}$/.test(release)) {
  throw new Error(`WEB_RELEASE must be 1-64 of [A-Za-z0-9_-], got ${JSON.stringify(release)}`);
}

const REPORTS = "/api/client-errors/reports";

// Static pages cannot carry per-request nonces, so scripts allow 'unsafe-inline' for
// Next's inline bootstrap; see docs/web-security.md for the trade-off.
const contentSecurityPolicy = [
  "default-src 'self'",
  `script-src 'self' 'unsafe-inline'${isDev ? " 'unsafe-eval'" : ""}`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "object-src 'none'",
  `report-uri ${REPORTS}`,
  "report-to csp-endpoint",
].join("; ");

const securityHeaders = [
  { key: "Content-Security-Policy", value: contentSecurityPolicy },
  { key: "Reporting-Endpoints", value: `csp-endpoint="${REPORTS}"` },
  { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
  { key: "X-Content-Type-Options", value: "nosniff" },
  {
    key: "Permissions-Policy",
    value: "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()",
  },
  ...(isDev ? [] : [{ key: "Strict-Transport-Security", value: "max-age=63072000; includeSubDomains" }]),
];

const nextConfig: NextConfig = {
  output: "standalone",
  poweredByHeader: false,
  reactStrictMode: true,
  outputFileTracingRoot: root,
  turbopack: { root },
  // CSS in the HTML instead of a render-blocking request: the first paint needs no round trip
  // (the CSP already allows inline styles, see docs/web-security.md).
  experimental: { inlineCss: true },
  generateBuildId: () => release,
  env: { WEB_RELEASE: release },
  // Maps are built for symbolication, then moved out of .next/static by
  // scripts/extract-sourcemaps.mjs (postbuild) so they are never served.
  productionBrowserSourceMaps: true,
  headers: async () => [{ source: "/:path*", headers: securityHeaders }],
  // No rewrites to the BFF on purpose: rewrite destinations are frozen at
  // build time. `/api/*` is proxied at request time by src/app/api/[...path].
};

export default nextConfig;
