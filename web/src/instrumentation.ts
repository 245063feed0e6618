import type { Instrumentation } from "next";

/**
 * On the Node.js server: Next's own console output becomes JSON records, every request gets a
 * request id, a trace context and an access record (`lib/log`), and the configuration is
 * checked once so a bad BFF_URL shows up in the logs immediately. Requests then fail clearly
 * too: the page shows a notice and `/api/*` answers 500 problem+json naming it in the log.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { routeConsole } = await import("./lib/log/console-records");
  const { installRequestHook } = await import("./lib/log/request-hook");
  const { getLogger } = await import("./lib/log/logger");
  routeConsole();
  installRequestHook();
  const { bffUrl, ConfigError } = await import("./lib/env");
  const log = getLogger("web");
  try {
    log.info("web server starting", { data: { bff_url: bffUrl() } });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log.error(`Invalid configuration: ${err.message}`);
  }
}

/** Server render, route and action errors: one `web.render` record, and a report to the BFF's error ingest (incident = digest). */
export const onRequestError: Instrumentation.onRequestError = async (error, request, context) => {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { reportServerError } = await import("./lib/report-server-error");
  await reportServerError(error, request, context);
};
