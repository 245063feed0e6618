import path from "node:path";
import type { NextConfig } from "next";

// Pin the project root to this directory so the standalone output is
// `.next/standalone/server.js` even inside the monorepo.
const root = path.resolve(__dirname);

const nextConfig: NextConfig = {
  output: "standalone",
  poweredByHeader: false,
  reactStrictMode: true,
  outputFileTracingRoot: root,
  turbopack: { root },
  // No rewrites to the BFF on purpose: rewrite destinations are frozen at
  // build time. `/api/*` is proxied at request time by src/app/api/[...path].
};

export default nextConfig;
