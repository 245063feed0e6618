import "server-only";

import { logEnvironment, logLevel, logService } from "../env";
import { formatRecord, type Level, type Location } from "./record";
import { currentRequest } from "./request-context";

/**
 * The web server's structured logger: one JSON line per record on stdout (logship's schema,
 * see `record.ts`), with the current request's id and trace id. Logging never throws.
 *
 *   const log = getLogger("web.bff");
 *   log.warning("BFF call failed", { data: { status: 502 } });
 */

export type LogExtra = {
  data?: unknown;
  error?: unknown;
  /** Overrides the current request's ids (for records written outside the request). */
  requestId?: string | null;
  traceId?: string | null;
};

export type Logger = {
  readonly name: string;
  debug(message: string, extra?: LogExtra): void;
  info(message: string, extra?: LogExtra): void;
  warning(message: string, extra?: LogExtra): void;
  error(message: string, extra?: LogExtra): void;
  critical(message: string, extra?: LogExtra): void;
  log(level: Level, message: string, extra?: LogExtra, location?: Location): void;
  isEnabledFor(level: Level): boolean;
};

const SEVERITY: Record<Level, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };
const FRAME = /^\s*at (?:(.*?) \()?(.+?):(\d+):(\d+)\)?$/;
const NO_LOCATION: Location = { file: "", line: 0, function: "" };

type Sink = (line: string) => void;

const stdoutSink: Sink = (line) => {
  process.stdout.write(`${line}\n`);
};

let sink: Sink = stdoutSink;
let settings: { service: string; environment: string; threshold: number } | undefined;

function config(): { service: string; environment: string; threshold: number } {
  if (!settings) {
    const level = logLevel() as Level;
    settings = {
      service: logService(),
      environment: logEnvironment(),
      threshold: SEVERITY[level] ?? SEVERITY.INFO,
    };
  }
  return settings;
}

/** Where lines go (stdout unless replaced, e.g. by a test); the configuration is read again. */
export function setSink(next: Sink | null): void {
  sink = next ?? stdoutSink;
  settings = undefined;
}

/** The first stack frame above `skip`: the caller's file, line and function. */
export function callerLocation(skip: (...args: never[]) => unknown): Location {
  try {
    const holder: { stack?: string } = {};
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 1;
    Error.captureStackTrace(holder, skip);
    Error.stackTraceLimit = limit;
    const frame = FRAME.exec((holder.stack ?? "").split("\n")[1] ?? "");
    if (!frame) return NO_LOCATION;
    return { file: frame[2] ?? "", line: Number(frame[3]), function: frame[1] ?? "" };
  } catch {
    return NO_LOCATION;
  }
}

function enabled(level: Level): boolean {
  try {
    return SEVERITY[level] >= config().threshold;
  } catch {
    return true;
  }
}

function write(name: string, level: Level, message: string, extra: LogExtra | undefined, location: Location): void {
  try {
    const { service, environment } = config();
    const request = currentRequest();
    const line = formatRecord({
      level,
      logger: name,
      message,
      service,
      environment,
      requestId: extra?.requestId !== undefined ? extra.requestId : (request?.requestId ?? null),
      traceId: extra?.traceId !== undefined ? extra.traceId : (request?.traceId ?? null),
      location,
      error: extra?.error,
      data: extra?.data,
    });
    sink(line);
  } catch {
    // logging must never break the caller (a closed stdout, a hostile value)
  }
}

const loggers = new Map<string, Logger>();

/** The logger called `name` (e.g. `web.access`, `web.bff`, `next`). */
export function getLogger(name: string): Logger {
  const known = loggers.get(name);
  if (known) return known;
  const logger: Logger = {
    name,
    debug(message, extra) {
      if (enabled("DEBUG")) write(name, "DEBUG", message, extra, callerLocation(logger.debug));
    },
    info(message, extra) {
      if (enabled("INFO")) write(name, "INFO", message, extra, callerLocation(logger.info));
    },
    warning(message, extra) {
      if (enabled("WARNING")) write(name, "WARNING", message, extra, callerLocation(logger.warning));
    },
    error(message, extra) {
      if (enabled("ERROR")) write(name, "ERROR", message, extra, callerLocation(logger.error));
    },
    critical(message, extra) {
      if (enabled("CRITICAL")) write(name, "CRITICAL", message, extra, callerLocation(logger.critical));
    },
    log(level, message, extra, location) {
      if (enabled(level)) write(name, level, message, extra, location ?? callerLocation(logger.log));
    },
    isEnabledFor: enabled,
  };
  loggers.set(name, logger);
  return logger;
}
