// Rewrites are resolved at build time: BENCH_STATIC_ORIGIN must be set for `next build`.
const staticOrigin = process.env.BENCH_STATIC_ORIGIN;
if (!staticOrigin) {
  throw new Error("BENCH_STATIC_ORIGIN (e.g. http://127.0.0.1:18081) must be set");
}

/** @type {import('next').NextConfig} */
const nextConfig = {
  poweredByHeader: false,
  async rewrites() {
    return [
      {
        source: "/api/static/:path*",
        destination: `${staticOrigin}/static/:path*`,
      },
    ];
  },
};

export default nextConfig;
