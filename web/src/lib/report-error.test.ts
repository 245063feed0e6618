import { describe, expect, it, vi } from "vitest";

import { elementSelector, keepLast, MAX_BREADCRUMBS, pathOnly } from "./breadcrumbs";
import { incidentFromDigest, newIncidentCode } from "./incident";
import { routePattern } from "./route-pattern";
import {
  BLOCK_KEY,
  createReporter,
  DEFAULT_BACKOFF_MS,
  fitReport,
  KEEPALIVE_LIMIT,
  MAX_REPORTS_PER_PAGE,
  REPORT_ENDPOINT,
  retryAt,
  topFrame,
  type ErrorReport,
  type ReporterDeps,
} from "./report-error";

type Sent = { url: string; init: RequestInit; report: ErrorReport };

function memoryStorage(): Pick<Storage, "getItem" | "setItem"> {
  const items = new Map<string, string>();
  return { getItem: (key) => items.get(key) ?? null, setItem: (key, value) => void items.set(key, value) };
}

/** A reporter whose fetch records what it sends and answers `status` (with `headers`). */
function harness(status = 202, headers: Record<string, string> = {}, deps: Partial<ReporterDeps> = {}) {
  const sent: Sent[] = [];
  let clock = 1_000_000;
  const storage = memoryStorage();
  const reporter = createReporter({
    fetch: async (url, init) => {
      sent.push({ url, init, report: JSON.parse(String(init.body)) as ErrorReport });
      return new Response(null, { status, headers });
    },
    storage: () => storage,
    now: () => clock,
    href: () => "https://shop.example/products/7?q=secret",
    ...deps,
  });
  const settle = async (): Promise<void> => {
    reporter.flush();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { sent, reporter, storage, settle, tick: (ms: number) => (clock += ms) };
}

function errorAt(message: string, line: number): Error {
  const error = new TypeError(message);
  error.stack = `TypeError: ${message}\n    at boom (https://shop.example/_next/static/chunks/a.js:1:${line})`;
  return error;
}

describe("reports", () => {
  it("carries noted request ids (the page's own first) and skips missing ones", async () => {
    const { sent, reporter, settle } = harness();
    reporter.noteRequestId("page-request-1");
    reporter.noteRequestId("");
    reporter.noteRequestId(null);
    reporter.noteRequestId("failed-call-2");
    reporter.report(errorAt("y is undefined", 11), "error");
    await settle();
    expect(sent[0]?.report.request_ids).toEqual(["page-request-1", "failed-call-2"]);
  });

  it("posts format v1 with context, keepalive and JSON", async () => {
    const { sent, reporter, settle } = harness();
    reporter.context.release = "build-1";
    reporter.context.route = "/products/[id]";
    reporter.addBreadcrumb("navigation", { to: "/products/7" });
    reporter.noteRequestId("req-1");
    const incident = reporter.report(errorAt("x is undefined", 10), "error");
    await settle();
    expect(sent).toHaveLength(1);
    const [{ url, init, report }] = sent as [Sent];
    expect(url).toBe(REPORT_ENDPOINT);
    expect(init.keepalive).toBe(true);
    expect(init.headers).toEqual({ "content-type": "application/json" });
    expect(report).toMatchObject({
      v: 1,
      incident,
      kind: "error",
      error: { type: "TypeError", message: "x is undefined" },
      url: "https://shop.example/products/7?q=secret",
      route: "/products/[id]",
      release: "build-1",
      request_ids: ["req-1"],
      ts: 1_000_000,
    });
    expect(report.error.stack).toContain("a.js:1:10");
    expect(report.breadcrumbs).toEqual([{ t: 1_000_000, type: "navigation", data: { to: "/products/7" } }]);
    expect(report.session).toMatch(/^[A-Z0-9-]{6,32}$/);
    expect(incident).toMatch(/^[A-Z0-9-]{6,32}$/);
  });

  it("keeps one session id per tab", async () => {
    const { sent, reporter, settle, storage } = harness();
    reporter.report(errorAt("a", 1), "error");
    reporter.report(errorAt("b", 2), "error");
    await settle();
    expect(sent[0]?.report.session).toBe(sent[1]?.report.session);
    expect(storage.getItem("report-error:session")).toBe(sent[0]?.report.session);
  });

  it("uses the digest as incident for server errors shown by an error boundary", async () => {
    const { sent, reporter, settle } = harness();
    expect(reporter.report(new Error("An error occurred"), "boundary", "2384011907")).toBe("2384011907");
    await settle();
    expect(sent[0]?.report).toMatchObject({ incident: "2384011907", digest: "2384011907" });
  });

  it("describes thrown non-errors", async () => {
    const { sent, reporter, settle } = harness();
    const circular: Record<string, unknown> = {};
    circular["self"] = circular;
    reporter.report({ code: 7 }, "unhandledrejection");
    reporter.report("plain string", "unhandledrejection");
    reporter.report(circular, "unhandledrejection");
    reporter.report(undefined, "unhandledrejection");
    await settle();
    expect(sent.map((s) => [s.report.error.type, s.report.error.message])).toEqual([
      ["NonError", '{"code":7}'],
      ["NonError", '"plain string"'],
      ["NonError", "[object Object]"],
      ["NonError", "undefined"],
    ]);
  });
});

describe("dedupe and caps", () => {
  it("sends a repeated error once and returns the same incident", async () => {
    const { sent, reporter, settle } = harness();
    const first = reporter.report(errorAt("same", 5), "error");
    const again = reporter.report(errorAt("same", 5), "boundary");
    await settle();
    expect(again).toBe(first);
    expect(sent).toHaveLength(1);
  });

  it("treats another top frame as another error", async () => {
    const { sent, reporter, settle } = harness();
    reporter.report(errorAt("same", 5), "error");
    reporter.report(errorAt("same", 6), "error");
    await settle();
    expect(sent).toHaveLength(2);
  });

  it(`sends at most ${MAX_REPORTS_PER_PAGE} reports per page`, async () => {
    const { sent, reporter, settle } = harness();
    const codes = Array.from({ length: 25 }, (_, i) => reporter.report(errorAt(`e${i}`, i), "error"));
    await settle();
    expect(sent).toHaveLength(MAX_REPORTS_PER_PAGE);
    expect(codes.every((code) => /^[A-Z0-9-]{6,32}$/.test(code))).toBe(true);
  });
});

describe("size", () => {
  const bytes = (text: string): number => new TextEncoder().encode(text).length;

  function huge(): ErrorReport {
    return {
      v: 1,
      incident: "ABCD-EFGH",
      kind: "error",
      error: {
        type: "Error",
        message: "m".repeat(5000),
        stack: Array.from({ length: 5000 }, (_, i) => `    at f${i} (https://x/_next/static/chunks/a.js:1:${i})`).join("\n"),
      },
      url: "https://x/",
      route: "/",
      release: "r",
      session: "s",
      breadcrumbs: Array.from({ length: 30 }, (_, i) => ({ t: i, type: "click" as const, data: { target: `b${i}`.padEnd(3000, "x") } })),
      request_ids: [],
      ts: 1,
    };
  }

  it(`fits a huge report under ${KEEPALIVE_LIMIT} bytes, newest breadcrumbs and top frames kept`, () => {
    const body = fitReport(huge());
    expect(bytes(body)).toBeLessThanOrEqual(KEEPALIVE_LIMIT);
    const report = JSON.parse(body) as ErrorReport;
    expect(report.error.stack.startsWith("    at f0 ")).toBe(true);
    expect(report.breadcrumbs.at(-1)?.data["target"]).toMatch(/^b29x/);
    expect(report.error.message).toBe("m".repeat(5000));
  });

  it("fits multi-byte text by bytes, not characters", () => {
    const report = huge();
    report.breadcrumbs = [];
    report.error.stack = "";
    report.error.message = "\u{1F4A5}".repeat(40_000);
    report.url = `https://x/${"é".repeat(40_000)}`;
    const body = fitReport(report);
    expect(bytes(body)).toBeLessThanOrEqual(KEEPALIVE_LIMIT);
    expect(() => JSON.parse(body)).not.toThrow();
  });

  it("leaves a small report untouched", () => {
    const report = huge();
    report.breadcrumbs = [];
    report.error = { type: "Error", message: "m", stack: "s" };
    expect(JSON.parse(fitReport(report))).toEqual(report);
  });

  it("sends without keepalive while 60 KB of keepalive bodies are in flight", async () => {
    const inits: RequestInit[] = [];
    const never = new Promise<Response>(() => undefined);
    const { reporter } = harness(202, {}, {
      fetch: (_url, init) => {
        inits.push(init);
        return never;
      },
    });
    for (let i = 0; i < 3; i++) reporter.report(new Error(`big ${i} ${"z".repeat(12_000)}`), "error");
    reporter.flush();
    expect(inits.map((init) => init.keepalive)).toEqual([true, true, false]);
  });
});

describe("rate limits", () => {
  it("stops sending until Retry-After has passed, and remembers it for the tab", async () => {
    const { sent, reporter, settle, tick, storage } = harness(429, { "retry-after": "30" });
    reporter.report(errorAt("first", 1), "error");
    await settle();
    expect(sent).toHaveLength(1);
    expect(Number(storage.getItem(BLOCK_KEY))).toBe(1_000_000 + 30_000);

    reporter.report(errorAt("second", 2), "error");
    await settle();
    expect(sent).toHaveLength(1);

    const reloaded = createReporter({
      fetch: async (url, init) => {
        sent.push({ url, init, report: JSON.parse(String(init.body)) as ErrorReport });
        return new Response(null, { status: 202 });
      },
      storage: () => storage,
      now: () => 1_000_000 + 29_000,
    });
    reloaded.report(errorAt("after reload", 3), "error");
    reloaded.flush();
    expect(sent).toHaveLength(1);

    tick(30_001);
    reporter.report(errorAt("third", 3), "error");
    await settle();
    expect(sent.map((s) => s.report.error.message)).toEqual(["first", "third"]);
  });

  it.each([
    ["seconds", "120", 1_000_000 + 120_000],
    ["HTTP date", new Date(1_000_000 + 45_000).toUTCString(), 1_000_000 + 45_000],
    ["missing", null, 1_000_000 + DEFAULT_BACKOFF_MS],
    ["garbage", "soon", 1_000_000 + DEFAULT_BACKOFF_MS],
    ["date in the past", new Date(0).toUTCString(), 1_000_000 + DEFAULT_BACKOFF_MS],
  ])("reads Retry-After as %s", (_name, header, expected) => {
    expect(retryAt(header, 1_000_000)).toBe(expected);
  });
});

describe("never throws", () => {
  it("survives a fetch that throws synchronously or rejects", async () => {
    for (const fetch of [
      () => {
        throw new TypeError("blocked");
      },
      () => Promise.reject(new TypeError("offline")),
    ]) {
      const reporter = createReporter({ fetch, storage: () => memoryStorage() });
      expect(() => reporter.report(new Error("x"), "error")).not.toThrow();
      expect(() => reporter.flush()).not.toThrow();
      await Promise.resolve();
    }
  });

  it("falls back to fetch when sendBeacon throws or refuses", async () => {
    for (const sendBeacon of [
      () => {
        throw new TypeError("beacon");
      },
      () => false,
    ]) {
      const { sent, reporter } = harness(202, {}, { sendBeacon });
      reporter.report(new Error("x"), "error");
      expect(() => reporter.flush(true)).not.toThrow();
      expect(sent).toHaveLength(1);
    }
  });

  it("uses sendBeacon when the page goes away", () => {
    const beacons: string[] = [];
    const { sent, reporter } = harness(202, {}, { sendBeacon: (_url, body) => beacons.push(body) > 0 });
    reporter.report(new Error("leaving"), "error");
    reporter.flush(true);
    expect(sent).toHaveLength(0);
    expect(JSON.parse(beacons[0] ?? "")).toMatchObject({ error: { message: "leaving" } });
  });

  it("works without storage (disabled or throwing)", async () => {
    const { sent, reporter, settle } = harness(429, { "retry-after": "5" }, {
      storage: () => {
        throw new DOMException("denied", "SecurityError");
      },
    });
    reporter.report(new Error("a"), "error");
    await settle();
    reporter.report(new Error("b"), "error");
    await settle();
    expect(sent).toHaveLength(1);
    expect(sent[0]?.report.session).toMatch(/^[A-Z0-9-]{6,32}$/);
  });

  it("survives an error whose properties throw", () => {
    const { reporter } = harness();
    const hostile = {
      get message(): string {
        throw new Error("gotcha");
      },
    };
    expect(() => reporter.report(hostile, "error")).not.toThrow();
  });

  it("schedules the send on a later task", async () => {
    vi.useFakeTimers();
    try {
      const { sent, reporter } = harness();
      reporter.report(new Error("later"), "error");
      expect(sent).toHaveLength(0);
      await vi.runAllTimersAsync();
      expect(sent).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("breadcrumbs", () => {
  it(`keeps the newest ${MAX_BREADCRUMBS}`, async () => {
    const { sent, reporter, settle } = harness();
    for (let i = 0; i < MAX_BREADCRUMBS + 7; i++) reporter.addBreadcrumb("click", { target: `b${i}` });
    reporter.report(new Error("x"), "error");
    await settle();
    const crumbs = sent[0]?.report.breadcrumbs ?? [];
    expect(crumbs).toHaveLength(MAX_BREADCRUMBS);
    expect(crumbs[0]?.data["target"]).toBe("b7");
    expect(crumbs.at(-1)?.data["target"]).toBe(`b${MAX_BREADCRUMBS + 6}`);
  });

  it("ring drops the oldest", () => {
    const ring: number[] = [];
    for (let i = 0; i < 5; i++) keepLast(ring, i, 3);
    expect(ring).toEqual([2, 3, 4]);
  });

  it.each([
    ["/api/catalog/items?q=alice@example.com&page=2", "/api/catalog/items"],
    ["https://other.example/x/y?token=abc", "/x/y"],
    ["http://[bad", ""],
  ])("pathOnly(%s) = %s", (url, expected) => {
    expect(pathOnly(url, "https://shop.example/")).toBe(expected);
  });

  it("describes elements without their text", () => {
    const el = (tag: string, id: string, classes: string[], parent: unknown) => ({
      tagName: tag,
      id,
      classList: classes,
      parentElement: parent,
    });
    const body = el("BODY", "", [], null);
    const main = el("MAIN", "", ["container"], body);
    const button = el("BUTTON", "buy", ["button", "button--primary", "x"], main);
    expect(elementSelector(button as unknown as EventTarget)).toBe("body > main.container > button#buy.button.button--primary");
    expect(elementSelector(null)).toBe("");
  });
});

describe("incident codes", () => {
  it("are quotable", () => {
    const codes = new Set(Array.from({ length: 200 }, newIncidentCode));
    expect(codes.size).toBe(200);
    for (const code of codes) expect(code).toMatch(/^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$/);
  });

  it.each([
    ["2384011907", "2384011907"],
    ["abc", "D-ABC0"],
    ["", "D-0000"],
    ["digest with spaces/and_symbols", "DIGEST-WITH-SPACES-AND-SYMBOLS"],
    ["9".repeat(50), "9".repeat(32)],
  ])("from digest %s", (digest, expected) => {
    expect(incidentFromDigest(digest)).toBe(expected);
  });
});

it("finds the top frame", () => {
  expect(topFrame("Error: x\n    at a (https://x/a.js:1:2)\n    at b (https://x/b.js:3:4)")).toBe(
    "    at a (https://x/a.js:1:2)",
  );
  expect(topFrame("no frames")).toBe("");
});

describe("route patterns", () => {
  it.each([
    ["/products/7", { id: "7" }, "/products/[id]"],
    ["/docs/a/b/c", { slug: ["a", "b", "c"] }, "/docs/[...slug]"],
    ["/orders/caf%C3%A9", { id: "café" }, "/orders/[id]"],
    ["/", {}, "/"],
    ["/diagnostics/uncaught-error", null, "/diagnostics/uncaught-error"],
  ])("%s with %j is %s", (pathname, params, expected) => {
    expect(routePattern(pathname, params)).toBe(expected);
  });
});
