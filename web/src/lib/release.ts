/**
 * The build id of this build (also `.next/BUILD_ID` and the source map directory name).
 *
 * Replaced by a string literal at build time through `env` in next.config.ts, in the browser
 * bundle as on the server: keep the plain `process.env.WEB_RELEASE` spelling, which is what the
 * build substitutes. This is not a run-time read of the environment.
 */
export const RELEASE: string = process.env.WEB_RELEASE ?? "";
