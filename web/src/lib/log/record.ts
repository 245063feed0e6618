import { cleanText, isSensitiveKey, redactedValue } from "./scrub";

/**
 * One log record as one line of JSON, with logship's schema (top-level keys are reserved;
 * caller data goes under `data`):
 *
 *   {"timestamp": "2026-01-02T03:04:05.678Z", "level": "INFO", "logger": "web.access",
 *    "message": "...", "service": "web", "environment": "production",
 *    "request_id": "..." | null, "trace_id": "..." | null,
 *    "location": {"file": "...", "line": 12, "function": "..."},
 *    "exception": {"type": "...", "message": "...", "stack": "..."},   // only with an error
 *    "data": {...},                                                    // only with caller data
 *    "truncated": true}                                                // only when cut to size
 *
 * Building a line never throws: values JSON cannot hold (cycles, BigInt, functions, throwing
 * getters or toJSON, Proxies) become strings, and a line over `MAX_RECORD_BYTES` is cut inside
 * the JSON. Every string is cleaned with logship's rules (`scrub.ts`), values under sensitive
 * keys are redacted.
 */

export type Level = "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL";

export type Location = { file: string; line: number; function: string };

export type RecordInput = {
  level: Level;
  logger: string;
  message: string;
  service: string;
  environment: string;
  requestId: string | null;
  traceId: string | null;
  location: Location;
  error?: unknown;
  data?: unknown;
  now?: number;
};

/**
 * A record is kept under 16 KiB with its newline: container runtimes split longer stdout lines
 * into partial messages, which would reach CloudWatch as several events that are not JSON.
 */
export const MAX_RECORD_BYTES = 16_383;

const MAX_DEPTH = 16;
const MAX_ITEMS = 1000;
const MAX_NODES = 5000;
const ELLIPSIS = "\u2026";

type State = { nodes: number; truncated: boolean; path: Set<object> };

function safeString(value: unknown): string {
  try {
    const text = String(value);
    return typeof text === "string" ? text : "<unrepresentable>";
  } catch {
    try {
      return `<unrepresentable ${Object.prototype.toString.call(value)}>`;
    } catch {
      return "<unrepresentable>";
    }
  }
}

function typeName(value: object): string {
  try {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === "string" && name ? name : "Object";
  } catch {
    return "Object";
  }
}

/** An error as the record's `exception` (type, message, stack); never throws. */
export function describeError(error: unknown): { type: string; message: string; stack: string } {
  try {
    if (error instanceof Error || (typeof error === "object" && error !== null && "message" in error)) {
      const e = error as { name?: unknown; message?: unknown; stack?: unknown; cause?: unknown };
      const type = typeof e.name === "string" && e.name ? e.name : typeName(error as object);
      let stack = typeof e.stack === "string" ? e.stack : "";
      const cause = e.cause;
      if (cause !== undefined && cause !== null) {
        const inner = cause instanceof Error ? (cause.stack ?? `${cause.name}: ${cause.message}`) : safeString(cause);
        stack = `${stack}\ncaused by: ${inner}`;
      }
      return { type, message: cleanText(safeString(e.message)), stack: cleanText(stack) };
    }
  } catch {
    // a hostile error object: described by its string form below
  }
  return { type: typeof error === "object" && error !== null ? typeName(error) : typeof error, message: cleanText(safeString(error)), stack: "" };
}

/** A JSON-native, redacted copy of caller data, bounded in depth, items and nodes. */
export function prepare(value: unknown, depth: number, state: State): unknown {
  state.nodes++;
  if (state.nodes > MAX_NODES) {
    state.truncated = true;
    return "[TRUNCATED]";
  }
  switch (typeof value) {
    case "string":
      return cleanText(value);
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "undefined":
      return null;
    case "symbol":
    case "function":
      return cleanText(safeString(value));
    default:
      break;
  }
  if (value === null) return null;
  const object = value as object;
  if (depth <= 0) {
    state.truncated = true;
    return "[TRUNCATED]";
  }
  if (state.path.has(object)) return "[CYCLE]";
  state.path.add(object);
  try {
    if (object instanceof Date) return Number.isNaN(object.getTime()) ? "Invalid Date" : object.toISOString();
    if (object instanceof Error) return describeError(object);
    if (object instanceof Uint8Array) return cleanText(Buffer.from(object.subarray(0, MAX_ITEMS * 64)).toString("utf8"));
    if (object instanceof URL) return cleanText(object.href);
    if (Array.isArray(object) || object instanceof Set) {
      const items: unknown[] = [];
      let index = 0;
      const size = Array.isArray(object) ? object.length : object.size;
      for (const item of object) {
        if (index++ >= MAX_ITEMS) {
          state.truncated = true;
          items.push(`[${size - MAX_ITEMS} more items]`);
          break;
        }
        items.push(prepare(item, depth - 1, state));
      }
      return items;
    }
    const entries: Iterable<[unknown, unknown]> = object instanceof Map ? object.entries() : Object.entries(object);
    const out: Record<string, unknown> = {};
    let count = 0;
    for (const [rawKey, item] of entries) {
      if (count++ >= MAX_ITEMS) {
        state.truncated = true;
        out["_more"] = "[more items]";
        break;
      }
      const key = cleanText(safeString(rawKey)).slice(0, 256);
      out[key] = isSensitiveKey(key) ? redactedValue(key, item) : prepare(item, depth - 1, state);
    }
    return out;
  } catch (err) {
    // A throwing getter or Proxy trap: the value is named, not serialised.
    return `<unrepresentable ${typeName(object)}: ${cleanText(safeString(err instanceof Error ? err.message : err))}>`;
  } finally {
    state.path.delete(object);
  }
}

function isoTimestamp(now: number): string {
  const date = new Date(now);
  return Number.isNaN(date.getTime()) ? "1970-01-01T00:00:00.000Z" : date.toISOString();
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** The longest string value inside nested objects and arrays, as [container, key, value]. */
function largestString(node: unknown): [Record<string, unknown> | unknown[], string | number, string] | null {
  let best: [Record<string, unknown> | unknown[], string | number, string] | null = null;
  const stack: unknown[] = [node];
  while (stack.length) {
    const current = stack.pop();
    if (current === null || typeof current !== "object") continue;
    const pairs: [string | number, unknown][] = Array.isArray(current)
      ? current.map((v, i) => [i, v] as [number, unknown])
      : Object.entries(current);
    for (const [key, value] of pairs) {
      if (typeof value === "string") {
        if (!best || value.length > best[2].length) best = [current as Record<string, unknown>, key, value];
      } else if (value !== null && typeof value === "object") {
        stack.push(value);
      }
    }
  }
  return best;
}

/** Cut the longest strings until the JSON fits; then fall back to the reserved fields only. */
function fit(payload: Record<string, unknown>, limit: number): string {
  payload["truncated"] = true;
  let collapsed = false;
  for (let i = 0; i < 32; i++) {
    const line = JSON.stringify(payload);
    const excess = byteLength(line) - limit;
    if (excess <= 0) return line;
    const found = largestString(payload);
    if (!found || found[2].length <= 64) {
      if (!collapsed && "data" in payload) {
        payload["data"] = { _preview: JSON.stringify(payload["data"]).slice(0, 1024) };
        collapsed = true;
        continue;
      }
      break;
    }
    const [container, key, text] = found;
    // Bytes per character can be up to 6 (escaped control characters): cut by characters, generously.
    const keep = Math.max(8, text.length - excess - 16);
    (container as Record<string | number, unknown>)[key] = text.slice(0, keep) + ELLIPSIS;
  }
  const minimal: Record<string, unknown> = {};
  for (const key of ["timestamp", "level", "logger", "service", "environment", "request_id", "trace_id"]) {
    const value = payload[key];
    minimal[key] = typeof value === "string" ? value.slice(0, 256) : (value ?? null);
  }
  minimal["message"] = String(payload["message"] ?? "").slice(0, Math.max(0, (limit - 2048) >> 3));
  minimal["location"] = payload["location"];
  minimal["truncated"] = true;
  const line = JSON.stringify(minimal);
  return byteLength(line) <= limit ? line : JSON.stringify({ ...minimal, message: "", location: null });
}

/** The record as one line of JSON (no newline); never throws. */
export function formatRecord(input: RecordInput, limit = MAX_RECORD_BYTES): string {
  const payload: Record<string, unknown> = {
    timestamp: isoTimestamp(input.now ?? Date.now()),
    level: input.level,
    logger: input.logger,
    message: "",
    service: input.service,
    environment: input.environment,
    request_id: input.requestId,
    trace_id: input.traceId,
    location: input.location,
  };
  try {
    payload["message"] = cleanText(safeString(input.message));
    if (input.error !== undefined) payload["exception"] = describeError(input.error);
    if (input.data !== undefined) {
      const state: State = { nodes: 0, truncated: false, path: new Set() };
      const prepared = prepare(input.data, MAX_DEPTH, state);
      payload["data"] =
        prepared !== null && typeof prepared === "object" && !Array.isArray(prepared) ? prepared : { data: prepared };
      if (state.truncated) payload["truncated"] = true;
    }
    const line = JSON.stringify(payload);
    return byteLength(line) <= limit ? line : fit(payload, limit);
  } catch (err) {
    // Last resort (nothing above should throw): the reserved fields and what went wrong.
    return JSON.stringify({
      ...payload,
      message: cleanText(safeString(input.message)).slice(0, 4096),
      data: { format_error: safeString(err instanceof Error ? err.message : err).slice(0, 256) },
      truncated: true,
    });
  }
}
