import "server-only";

import { formatWithOptions } from "node:util";

import { callerLocation, getLogger, type Logger } from "./logger";
import type { Level } from "./record";

/**
 * Next.js writes its own server messages (start-up, render errors, warnings) with `console.*`.
 * Patched here on the server, each call becomes one JSON record of the `next` logger: the
 * first Error argument becomes the record's `exception` (its stack inside the record, never
 * as separate lines), the other arguments are formatted into the message without colours.
 */

const METHODS: Record<"error" | "warn" | "info" | "log" | "debug" | "trace", Level> = {
  error: "ERROR",
  warn: "WARNING",
  info: "INFO",
  log: "INFO",
  debug: "DEBUG",
  trace: "DEBUG",
};
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
const PATCHED = Symbol.for("web.log.console");

/** The message and the error of one console call; never throws. */
export function consoleRecord(args: unknown[]): { message: string; error?: unknown } {
  const index = args.findIndex((arg) => arg instanceof Error);
  const error = index >= 0 ? args[index] : undefined;
  const rest = index >= 0 ? args.filter((_, i) => i !== index) : args;
  let message: string;
  try {
    message = formatWithOptions({ colors: false, depth: 4, breakLength: Infinity }, ...rest);
  } catch {
    message = rest.map((arg) => (typeof arg === "string" ? arg : Object.prototype.toString.call(arg))).join(" ");
  }
  message = message.replace(ANSI, "").trim();
  if (!message && error instanceof Error) message = `${error.name}: ${error.message}`;
  return error === undefined ? { message } : { message, error };
}

/** Route `console.*` through `logger` (the `next` logger by default); idempotent. */
export function routeConsole(logger: Logger = getLogger("next")): void {
  const target = console as unknown as Record<string | symbol, unknown>;
  if (target[PATCHED]) return;
  target[PATCHED] = true;
  for (const [method, level] of Object.entries(METHODS) as [keyof typeof METHODS, Level][]) {
    const patched = function (...args: unknown[]): void {
      try {
        if (!logger.isEnabledFor(level)) return;
        const { message, error } = consoleRecord(args);
        if (!message && error === undefined) return; // the blank lines Next prints for spacing
        const digest = (error as { digest?: unknown } | undefined)?.digest;
        // A render error Next prints also becomes a `web.render` record (onRequestError); the
        // digest (= incident code) joins the two.
        const extra = error === undefined ? undefined : typeof digest === "string" ? { error, data: { digest } } : { error };
        logger.log(level, message, extra, callerLocation(patched));
      } catch {
        // console output must never throw
      }
    };
    target[method] = patched;
  }
}
