import type { Instrumentation } from "next";

/**
 * Checks configuration once at server start so a bad BFF_URL shows up in the
 * logs immediately. Requests then fail clearly too: the page shows a notice and
 * `/api/*` answers 500 problem+json naming the misconfiguration in the log.
 */
export async function register(): Promise<void> {
  const { bffUrl, ConfigError } = await import("./lib/env");
  try {
    console.log(`BFF_URL: ${bffUrl()}`);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`Invalid configuration: ${err.message}`);
  }
}

/** Server render, route and action errors go to the BFF's error ingest (incident = digest). */
export const onRequestError: Instrumentation.onRequestError = async (error, request, context) => {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { reportServerError } = await import("./lib/report-server-error");
  await reportServerError(error, request, context);
};
