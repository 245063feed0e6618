import "server-only";

/**
 * The only module that reads `process.env`.
 *
 * Values are read on every call (request time), never at build time, so a
 * built app can be pointed at another BFF by changing the environment and
 * restarting — no rebuild.
 */

const DEFAULT_BFF_URL = "http://127.0.0.1:8080";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Base URL of the BFF, without a trailing slash. Throws ConfigError if invalid. */
export function bffUrl(): string {
  const raw = (process.env["BFF_URL"] ?? "").trim() || DEFAULT_BFF_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`BFF_URL must be an absolute http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`BFF_URL must use http or https, got ${JSON.stringify(raw)}`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigError(
      `BFF_URL must not contain credentials, a query or a fragment, got ${JSON.stringify(raw)}`,
    );
  }
  return url.href.replace(/\/+$/, "");
}

/**
 * Token guarding /ops (the BFF's BFF_OPS_TOKEN: the site sends it as a bearer token).
 * Null when unset; throws ConfigError when set but shorter than 32 characters.
 */
export function opsToken(): string | null {
  const raw = (process.env["OPS_TOKEN"] ?? "").trim();
  if (!raw) return null;
  if (raw.length < 32) throw new ConfigError("OPS_TOKEN must be at least 32 characters");
  return raw;
}

/** True when WEB_DIAGNOSTICS=1: the /diagnostics pages that raise errors on purpose answer. */
export function diagnosticsEnabled(): boolean {
  return (process.env["WEB_DIAGNOSTICS"] ?? "").trim() === "1";
}

/** True in a production build/server (`NODE_ENV=production`). */
export function isProduction(): boolean {
  return process.env["NODE_ENV"] === "production";
}

/** The `service` field of the web server's log records (LOG_SERVICE, default `web`). */
export function logService(): string {
  return (process.env["LOG_SERVICE"] ?? "").trim().slice(0, 256) || "web";
}

/** The `environment` field of log records (LOG_ENVIRONMENT, else NODE_ENV). */
export function logEnvironment(): string {
  return ((process.env["LOG_ENVIRONMENT"] ?? "").trim() || process.env["NODE_ENV"] || "").slice(0, 256);
}

/** The least severe level written (LOG_LEVEL: DEBUG, INFO, WARNING, ERROR or CRITICAL; default INFO). */
export function logLevel(): string {
  return (process.env["LOG_LEVEL"] ?? "").trim().toUpperCase() || "INFO";
}
