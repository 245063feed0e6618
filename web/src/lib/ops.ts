/** Types, guards and pure formatting for the /ops page (the BFF's `/api/ops/*` answers). */

import type { components } from "./bff-api";
import { isRecord } from "./problem";

/* Every type is the BFF's own model, through its OpenAPI document (`npm run gen:api`); the guards
   below stay because the page must not trust an answer's shape, and they narrow to these types. */
type Schemas = components["schemas"];

export type Upstream = Schemas["UpstreamHealth"];
export type OpsSummary = Schemas["OpsSummary"];
export type Frame = Schemas["Frame"];
export type OpsEvent = Schemas["OpsEvent"];

/** The error-group list (`/api/ops/client-errors`), read from the BFF's index. */
export type ClientErrors = Schemas["ClientErrors"];

/** One group in the list, with its per-minute sparkline (last hour, oldest first). */
export type ErrorGroup = Schemas["ErrorGroup"];

/** One group's page (`/api/ops/client-errors/{fingerprint}`). */
export type ErrorGroupPage = Schemas["ErrorGroupPage"];

/** One of a group's latest occurrences: its incident code and the request id of its report. */
export type Occurrence = Schemas["Occurrence"];

export type Resolution = Schemas["Resolution"];

export type GroupStatus = ClientErrors["status"];

export type TrafficBucket = Schemas["TrafficBucket"];

export type Traffic = Schemas["Traffic"];

/** The server records of an incident's failed requests. */
export type Related = Schemas["Related"];

/** A server log record of one of an incident's failed requests (any service's stream). */
export type RelatedRecord = Schemas["RelatedRecord"];

/** An incident's events, or `configured: false` when the BFF ships no logs. */
export type Incident = Schemas["Incident"] | Schemas["IncidentNotConfigured"];

const isString = (v: unknown): v is string => typeof v === "string";
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

function isUpstream(v: unknown): v is Upstream {
  return isRecord(v) && isString(v["name"]) && isString(v["host"]) && typeof v["healthy"] === "boolean" && isNumber(v["latency_ms"]);
}

export function isOpsSummary(v: unknown): v is OpsSummary {
  return (
    isRecord(v) &&
    isString(v["environment"]) &&
    Array.isArray(v["upstreams"]) &&
    v["upstreams"].every(isUpstream) &&
    isRecord(v["logging"]) &&
    isRecord(v["logging"]["stats"])
  );
}

export function isOpsEvent(v: unknown): v is OpsEvent {
  return isRecord(v) && isString(v["timestamp"]) && isRecord(v["data"]);
}

const isTimeOrNull = (v: unknown): v is string | null => v === null || isString(v);
const isNumberArray = (v: unknown): v is number[] => Array.isArray(v) && v.every(isNumber);

function hasGroupFacts(v: Record<string, unknown>): boolean {
  return (
    isString(v["fingerprint"]) &&
    (v["status"] === "open" || v["status"] === "resolved") &&
    isNumber(v["count"]) &&
    isTimeOrNull(v["first_seen"]) &&
    isTimeOrNull(v["last_seen"]) &&
    isString(v["type"]) &&
    isString(v["message"])
  );
}

function isErrorGroup(v: unknown): v is ErrorGroup {
  return isRecord(v) && hasGroupFacts(v) && isStringArray(v["releases"]) && isStringArray(v["routes"]) && isNumberArray(v["sparkline"]);
}

export function isClientErrors(v: unknown): v is ClientErrors {
  return isRecord(v) && isNumber(v["matched"]) && Array.isArray(v["groups"]) && v["groups"].every(isErrorGroup);
}

function isOccurrence(v: unknown): v is Occurrence {
  return isRecord(v) && (v["incident"] === null || isString(v["incident"])) && (v["request_id"] === null || isString(v["request_id"]));
}

export function isErrorGroupPage(v: unknown): v is ErrorGroupPage {
  return (
    isRecord(v) &&
    hasGroupFacts(v) &&
    Array.isArray(v["releases"]) &&
    v["releases"].every((r) => isRecord(r) && isString(r["release"]) && isNumber(r["count"])) &&
    Array.isArray(v["routes"]) &&
    v["routes"].every((r) => isRecord(r) && isString(r["route"]) && isNumber(r["count"])) &&
    Array.isArray(v["latest"]) &&
    v["latest"].every(isOccurrence) &&
    Array.isArray(v["minutes"]) &&
    v["minutes"].every((m) => isRecord(m) && isString(m["t"]) && isNumber(m["count"])) &&
    (v["sample"] === null || isOpsEvent(v["sample"]))
  );
}

export function isResolution(v: unknown): v is Resolution {
  return isRecord(v) && isString(v["fingerprint"]) && (v["status"] === "open" || v["status"] === "resolved");
}

/** Fingerprints as the BFF makes them: 16 lower-case hex digits; else null. */
export function normalizeFingerprint(raw: string): string | null {
  const fp = raw.trim().toLowerCase();
  return /^[0-9a-f]{16}$/.test(fp) ? fp : null;
}

/** SVG `points` for a sparkline of `values` in a `width` x `height` box (zero at the bottom). */
export function sparklinePoints(values: number[], width: number, height: number): string {
  if (values.length === 0) return "";
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const round = (v: number) => Math.round(v * 10) / 10;
  return values.map((v, i) => `${round(i * step)},${round(height - (v / max) * (height - 1) - 0.5)}`).join(" ");
}

function isBucket(v: unknown): v is TrafficBucket {
  return (
    isRecord(v) &&
    isString(v["t"]) &&
    isNumber(v["requests"]) &&
    isNumber(v["errors_4xx"]) &&
    isNumber(v["errors_5xx"]) &&
    isNumber(v["client_errors"])
  );
}

export function isTraffic(v: unknown): v is Traffic {
  return isRecord(v) && typeof v["configured"] === "boolean" && Array.isArray(v["buckets"]) && v["buckets"].every(isBucket);
}

function isRelatedRecord(v: unknown): v is RelatedRecord {
  return isRecord(v) && isString(v["timestamp"]) && isString(v["stream"]) && isString(v["service"]);
}

function isRelated(v: unknown): v is Related {
  return (
    isRecord(v) &&
    isStringArray(v["request_ids"]) &&
    typeof v["truncated"] === "boolean" &&
    Array.isArray(v["records"]) &&
    v["records"].every(isRelatedRecord)
  );
}

export function isIncident(v: unknown): v is Incident {
  return (
    isRecord(v) &&
    isString(v["incident"]) &&
    Array.isArray(v["events"]) &&
    v["events"].every(isOpsEvent) &&
    ((v["configured"] === true && isRelated(v["related"])) || (v["configured"] === false && isString(v["detail"])))
  );
}

/** The request ids of an event's failed API calls (`data.request_ids`, strings only). */
export function failedRequestIds(event: OpsEvent): string[] {
  const ids = event.data["request_ids"];
  return Array.isArray(ids) ? ids.filter(isString) : [];
}

/** The related records that belong to one event: those carrying one of its failed request ids. */
export function recordsForEvent(event: OpsEvent, records: RelatedRecord[]): RelatedRecord[] {
  const ids = new Set(failedRequestIds(event));
  return records.filter((r) => typeof r.request_id === "string" && ids.has(r.request_id));
}

/** `404`, `502 (upstream 500)`, or `–` when the record has no status. */
export function formatStatus(record: RelatedRecord): string {
  if (typeof record.status !== "number") return "–";
  const upstream = record.upstream_status;
  return typeof upstream === "number" && upstream !== record.status ? `${record.status} (upstream ${upstream})` : String(record.status);
}

/** The frames of an event's `data.frames`, dropping anything that is not an object. */
export function framesOf(data: Record<string, unknown>): Frame[] {
  const frames = data["frames"];
  return Array.isArray(frames) ? frames.filter((f): f is Frame => isRecord(f)) : [];
}

/** `function (file:line:col)`, the way a stack trace reads; unknown parts shown as `?`. */
export function formatFrame(frame: Frame): string {
  const fn = frame.function || "<anonymous>";
  const file = frame.file || "?";
  const line = frame.line ?? "?";
  const column = frame.column ?? "?";
  return `${fn} (${file}:${line}:${column})`;
}

/** Incident codes as the BFF accepts them: 6-32 of [A-Z0-9-], case-insensitive; else null. */
export function normalizeIncidentCode(raw: string): string | null {
  const code = raw.trim().toUpperCase();
  return /^[A-Z0-9-]{6,32}$/.test(code) ? code : null;
}

/** "just now", "45 s ago", "12 min ago", "3 h ago", "2 d ago" (future times read "just now"). */
export function relativeTime(iso: string, now: number): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "unknown";
  const seconds = Math.floor((now - then) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

/** `2026-01-02 03:04:05 UTC` (seconds precision). */
export function absoluteTime(iso: string): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  return new Date(then).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, " UTC");
}

/** `HH:MM` in UTC, for chart and table labels. */
export function minuteLabel(iso: string): string {
  const then = Date.parse(iso);
  return Number.isNaN(then) ? "?" : new Date(then).toISOString().slice(11, 16);
}

/** The smallest of 1, 2, 5 × 10^k that is >= value (at least 1): a round top for an axis. */
export function niceMax(value: number): number {
  if (!(value > 1)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

export type TrafficTotals = { requests: number; errors4xx: number; errors5xx: number; peak: number; peakAt: string | null };

/** Sums and the busiest minute. */
export function trafficTotals(buckets: TrafficBucket[]): TrafficTotals {
  const totals: TrafficTotals = { requests: 0, errors4xx: 0, errors5xx: 0, peak: 0, peakAt: null };
  for (const b of buckets) {
    totals.requests += b.requests;
    totals.errors4xx += b.errors_4xx;
    totals.errors5xx += b.errors_5xx;
    if (b.requests > totals.peak) {
      totals.peak = b.requests;
      totals.peakAt = b.t;
    }
  }
  return totals;
}

/** One sentence for screen readers describing the chart. */
export function describeTraffic(buckets: TrafficBucket[]): string {
  if (buckets.length === 0) return "No traffic data.";
  const t = trafficTotals(buckets);
  const span = `${minuteLabel(buckets[0]?.t ?? "")} to ${minuteLabel(buckets[buckets.length - 1]?.t ?? "")} UTC`;
  const peak = t.peakAt ? `, peak ${t.peak} per minute at ${minuteLabel(t.peakAt)}` : "";
  return `Requests per minute from ${span}: ${t.requests} requests${peak}; ${t.errors5xx} server errors (5xx) and ${t.errors4xx} client errors (4xx).`;
}

export type ChartBox = { width: number; height: number; left: number; right: number; top: number; bottom: number };

export type ChartGeometry = {
  max: number;
  /** SVG `points` for the requests line. */
  requests: string;
  /** One bar per minute with errors (4xx + 5xx stacked: 5xx at the bottom). */
  bars: { x: number; width: number; y5xx: number; h5xx: number; y4xx: number; h4xx: number; t: string }[];
  /** Horizontal grid lines with their labels. */
  yTicks: { y: number; label: string }[];
  /** A few time labels along the bottom; the last one ends at its minute so it stays inside the box. */
  xTicks: { x: number; label: string; anchor: "middle" | "end" }[];
};

/** Where everything goes in a chart of `buckets` inside `box` (pure: used by the SVG component). */
export function chartGeometry(buckets: TrafficBucket[], box: ChartBox): ChartGeometry {
  const plotW = Math.max(1, box.width - box.left - box.right);
  const plotH = Math.max(1, box.height - box.top - box.bottom);
  const peak = buckets.reduce((m, b) => Math.max(m, b.requests, b.errors_4xx + b.errors_5xx), 0);
  const max = niceMax(peak);
  const n = buckets.length;
  const step = n > 1 ? plotW / (n - 1) : 0;
  const xAt = (i: number) => box.left + (n > 1 ? i * step : plotW / 2);
  const yAt = (v: number) => box.top + plotH - (v / max) * plotH;
  const round = (v: number) => Math.round(v * 10) / 10;
  const requests = buckets.map((b, i) => `${round(xAt(i))},${round(yAt(b.requests))}`).join(" ");
  const barW = Math.max(1, Math.min(12, (n > 1 ? step : plotW) * 0.6));
  const bars = buckets.flatMap((b, i) => {
    if (b.errors_4xx + b.errors_5xx === 0) return [];
    const h5xx = (b.errors_5xx / max) * plotH;
    const h4xx = (b.errors_4xx / max) * plotH;
    const base = box.top + plotH;
    return [
      {
        x: round(xAt(i) - barW / 2),
        width: round(barW),
        y5xx: round(base - h5xx),
        h5xx: round(h5xx),
        y4xx: round(base - h5xx - h4xx),
        h4xx: round(h4xx),
        t: b.t,
      },
    ];
  });
  const yTicks = [0, max / 2, max].map((v) => ({ y: round(yAt(v)), label: Number.isInteger(v) ? String(v) : v.toFixed(1) }));
  const labelEvery = Math.max(1, Math.ceil(n / 6));
  const xTicks = buckets.flatMap((b, i): ChartGeometry["xTicks"] => {
    if (i === n - 1 && n > 1) return [{ x: round(xAt(i)), label: minuteLabel(b.t), anchor: "end" }];
    // A label too close to the last one would overlap it: the last minute is always labelled.
    if (i % labelEvery !== 0 || (n > 1 && xAt(n - 1) - xAt(i) < 36)) return [];
    return [{ x: round(xAt(i)), label: minuteLabel(b.t), anchor: "middle" }];
  });
  return { max, requests, bars, yTicks, xTicks };
}
