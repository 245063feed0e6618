import { describe, expect, it } from "vitest";

import {
  absoluteTime,
  chartGeometry,
  describeTraffic,
  failedRequestIds,
  formatFrame,
  formatStatus,
  framesOf,
  isClientErrors,
  isErrorGroupPage,
  isIncident,
  isResolution,
  isTraffic,
  niceMax,
  normalizeFingerprint,
  normalizeIncidentCode,
  recordsForEvent,
  relativeTime,
  sparklinePoints,
  trafficTotals,
  type OpsEvent,
  type RelatedRecord,
  type TrafficBucket,
} from "./ops";

const BOX = { width: 120, height: 60, left: 10, right: 10, top: 5, bottom: 5 };

function bucket(minute: number, requests: number, e4 = 0, e5 = 0): TrafficBucket {
  return { t: new Date(Date.UTC(2026, 0, 2, 3, minute)).toISOString(), requests, errors_4xx: e4, errors_5xx: e5, client_errors: 0 };
}

describe("niceMax", () => {
  it.each([
    [0, 1],
    [-3, 1],
    [Number.NaN, 1],
    [1, 1],
    [1.2, 2],
    [3, 5],
    [7, 10],
    [10, 10],
    [11, 20],
    [499, 500],
    [501, 1000],
  ])("%s -> %s", (value, expected) => {
    expect(niceMax(value)).toBe(expected);
  });
});

describe("chartGeometry", () => {
  it("maps the peak to the top and zero to the bottom", () => {
    const g = chartGeometry([bucket(0, 0), bucket(1, 10), bucket(2, 5)], BOX);
    expect(g.max).toBe(10);
    expect(g.requests).toBe("10,55 60,5 110,30");
    expect(g.yTicks.map((t) => t.label)).toEqual(["0", "5", "10"]);
  });

  it("stacks 5xx under 4xx and skips minutes without errors", () => {
    const g = chartGeometry([bucket(0, 4, 0, 0), bucket(1, 4, 1, 1)], BOX);
    expect(g.max).toBe(5);
    expect(g.bars).toHaveLength(1);
    const bar = g.bars[0]!;
    expect(bar.h5xx).toBe(10);
    expect(bar.h4xx).toBe(10);
    expect(bar.y5xx).toBe(45);
    expect(bar.y4xx).toBe(35);
  });

  it("copes with no data and a single minute", () => {
    expect(chartGeometry([], BOX).requests).toBe("");
    const one = chartGeometry([bucket(0, 3)], BOX);
    expect(one.requests).toBe("60,25"); // max 5: 3 is 60% up a 50-pixel plot
    expect(one.xTicks).toEqual([{ x: 60, label: "03:00", anchor: "middle" }]);
  });

  it("labels at most about six minutes along the axis, always the last", () => {
    const buckets = Array.from({ length: 60 }, (_, i) => bucket(i, i));
    const ticks = chartGeometry(buckets, BOX).xTicks;
    expect(ticks.length).toBeLessThanOrEqual(7);
    expect(ticks[ticks.length - 1]?.label).toBe("03:59");
  });

  it("ends the last label at its minute so it is not clipped at the right edge", () => {
    const buckets = Array.from({ length: 60 }, (_, i) => bucket(i, i));
    const ticks = chartGeometry(buckets, BOX).xTicks;
    const last = ticks[ticks.length - 1]!;
    expect(last.anchor).toBe("end");
    expect(last.x).toBe(BOX.width - BOX.right);
    expect(ticks.slice(0, -1).every((t) => t.anchor === "middle" && last.x - t.x >= 36)).toBe(true);
  });
});

describe("traffic summaries", () => {
  const buckets = [bucket(0, 2, 1, 0), bucket(1, 9, 0, 3), bucket(2, 0)];

  it("totals and peak", () => {
    expect(trafficTotals(buckets)).toEqual({
      requests: 11,
      errors4xx: 1,
      errors5xx: 3,
      peak: 9,
      peakAt: buckets[1]!.t,
    });
  });

  it("one sentence for screen readers", () => {
    expect(describeTraffic(buckets)).toBe(
      "Requests per minute from 03:00 to 03:02 UTC: 11 requests, peak 9 per minute at 03:01; 3 server errors (5xx) and 1 client errors (4xx).",
    );
    expect(describeTraffic([])).toBe("No traffic data.");
  });
});

describe("times", () => {
  const now = Date.UTC(2026, 0, 2, 12, 0, 0);
  it.each([
    [0, "just now"],
    [-60_000, "just now"],
    [30_000, "30 s ago"],
    [5 * 60_000, "5 min ago"],
    [3 * 3_600_000, "3 h ago"],
    [72 * 3_600_000, "3 d ago"],
  ])("%s ms ago -> %s", (ago, expected) => {
    expect(relativeTime(new Date(now - ago).toISOString(), now)).toBe(expected);
  });

  it("absolute time in UTC to the second", () => {
    expect(absoluteTime("2026-01-02T03:04:05.678Z")).toBe("2026-01-02 03:04:05 UTC");
    expect(absoluteTime("garbage")).toBe("garbage");
    expect(relativeTime("garbage", now)).toBe("unknown");
  });
});

describe("frames", () => {
  it("reads like a stack trace", () => {
    expect(formatFrame({ function: "renderItem", file: "src/a.tsx", line: 3, column: 9 })).toBe(
      "renderItem (src/a.tsx:3:9)",
    );
    expect(formatFrame({ file: null, line: 1 })).toBe("<anonymous> (?:1:?)");
  });

  it("keeps only object frames", () => {
    expect(framesOf({ frames: [{ function: "f" }, "junk", null] })).toEqual([{ function: "f" }]);
    expect(framesOf({ frames: "nope" })).toEqual([]);
  });
});

describe("incident codes", () => {
  it.each([
    ["k7qd-2mxa", "K7QD-2MXA"],
    ["  ABC123 ", "ABC123"],
    ["abc", null],
    ["A".repeat(33), null],
    ["ABC_123", null],
    ["ABC 123", null],
  ])("%j -> %j", (raw, expected) => {
    expect(normalizeIncidentCode(raw)).toBe(expected);
  });
});

describe("guards", () => {
  it("accept the BFF's shapes and reject others", () => {
    expect(isTraffic({ configured: true, minutes: 1, buckets: [bucket(0, 1)] })).toBe(true);
    expect(isTraffic({ configured: true, buckets: [{ t: "x", requests: "1" }] })).toBe(false);
    expect(isTraffic({ configured: true, buckets: [{ t: "x", requests: 1, errors_4xx: 0, errors_5xx: 0 }] })).toBe(false);
    const group = {
      fingerprint: "0123456789abcdef",
      status: "open",
      count: 3,
      first_seen: "2026-01-02T03:04:05.000Z",
      last_seen: "2026-01-02T03:05:05.000Z",
      type: "TypeError",
      message: "x",
      releases: ["b1"],
      routes: ["/cart"],
      sparkline: [0, 1, 2],
      sessions: 1,
    };
    expect(isClientErrors({ matched: 1, status: "open", since_minutes: 60, groups: [group] })).toBe(true);
    expect(isClientErrors({ matched: 0, groups: [{ fingerprint: "a" }] })).toBe(false);
    expect(isClientErrors({ matched: 1, groups: [{ ...group, status: "closed" }] })).toBe(false);
    expect(isClientErrors({ configured: false, detail: "off", groups: [] })).toBe(false);
    const page = { ...group, releases: [{ release: "b1", count: 3 }], routes: [{ route: "/cart", count: 3 }], latest: [], minutes: [], sample: null };
    expect(isErrorGroupPage(page)).toBe(true);
    expect(isErrorGroupPage({ ...page, releases: ["b1"] })).toBe(false);
    expect(isResolution({ fingerprint: "0123456789abcdef", status: "resolved" })).toBe(true);
  });
});

describe("error groups", () => {
  it("accepts only the BFF's fingerprints", () => {
    expect(normalizeFingerprint(" 0123456789ABCDEF ")).toBe("0123456789abcdef");
    expect(normalizeFingerprint("0123")).toBeNull();
    expect(normalizeFingerprint("../../x")).toBeNull();
  });

  it("draws a sparkline with zero at the bottom and the peak at the top", () => {
    expect(sparklinePoints([], 100, 20)).toBe("");
    expect(sparklinePoints([0, 2, 1], 100, 20)).toBe("0,19.5 50,0.5 100,10");
    expect(sparklinePoints([0, 0], 10, 10)).toBe("0,9.5 10,9.5");
  });
});

describe("related server records", () => {
  const event: OpsEvent = {
    timestamp: "2026-01-02T03:04:05.000Z",
    stream: "client-errors/h/1",
    message: "client error: TypeError: x",
    request_id: "rid-report",
    data: { request_ids: ["req-a", 7, null, "req-b"] },
  };
  const record = (request_id: string | null, extra: Partial<RelatedRecord> = {}): RelatedRecord => ({
    timestamp: "2026-01-02T03:04:00.000Z",
    stream: "catalog/h/2",
    service: "catalog",
    logger: null,
    level: null,
    message: null,
    request_id,
    status: null,
    method: null,
    path: null,
    duration_ms: null,
    upstream_status: null,
    ...extra,
  });

  it("keeps only string request ids", () => {
    expect(failedRequestIds(event)).toEqual(["req-a", "req-b"]);
    expect(failedRequestIds({ ...event, data: { request_ids: "req-a" } })).toEqual([]);
    expect(failedRequestIds({ ...event, data: {} })).toEqual([]);
  });

  it("picks the records of the event's failed requests", () => {
    const records = [record("req-a"), record("req-other"), record(null), record("req-b"), record("rid-report")];
    expect(recordsForEvent(event, records).map((r) => r.request_id)).toEqual(["req-a", "req-b"]);
    expect(recordsForEvent({ ...event, data: {} }, records)).toEqual([]);
  });

  it.each([
    [{ status: 404 }, "404"],
    [{ status: 502, upstream_status: 500 }, "502 (upstream 500)"],
    [{ status: 404, upstream_status: 404 }, "404"],
    [{ status: null, upstream_status: 500 }, "–"],
    [{}, "–"],
  ])("formats status %j as %s", (extra, text) => {
    expect(formatStatus(record("req-a", extra))).toBe(text);
  });

  it("accepts incidents with related records or not configured, rejects malformed ones", () => {
    const base = { configured: true, incident: "ABC-123", events: [event] };
    const related = { request_ids: ["req-a"], truncated: false, records: [record("req-a")] };
    expect(isIncident(base)).toBe(false);
    expect(isIncident({ ...base, related })).toBe(true);
    expect(isIncident({ configured: false, detail: "no log group", incident: "ABC-123", events: [] })).toBe(true);
    expect(isIncident({ configured: false, incident: "ABC-123", events: [] })).toBe(false);
    expect(isIncident({ ...base, related: { ...related, records: [{ timestamp: "t" }] } })).toBe(false);
    expect(isIncident({ ...base, related: { ...related, truncated: "no" } })).toBe(false);
    expect(isIncident({ ...base, related: null })).toBe(false);
  });
});
