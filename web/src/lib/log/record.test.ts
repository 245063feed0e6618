import { describe, expect, it } from "vitest";

import { formatRecord, MAX_RECORD_BYTES, type RecordInput } from "./record";

const RESERVED = ["timestamp", "level", "logger", "message", "service", "environment", "request_id", "trace_id", "location"];

function record(extra: Partial<RecordInput> = {}): RecordInput {
  return {
    level: "INFO",
    logger: "web.test",
    message: "hello",
    service: "web",
    environment: "test",
    requestId: "req-1",
    traceId: "0af7651916cd43dd8448eb211c80319c",
    location: { file: "a.ts", line: 1, function: "f" },
    now: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    ...extra,
  };
}

function parse(line: string): Record<string, unknown> {
  expect(line).not.toContain("\n");
  return JSON.parse(line) as Record<string, unknown>;
}

describe("formatRecord", () => {
  it("has logship's reserved keys, caller data under data", () => {
    const out = parse(formatRecord(record({ data: { level: "mine", n: 1 } })));
    expect(Object.keys(out).slice(0, RESERVED.length)).toEqual(RESERVED);
    expect(out).toMatchObject({
      timestamp: "2026-01-02T03:04:05.678Z",
      level: "INFO",
      request_id: "req-1",
      data: { level: "mine", n: 1 },
    });
  });

  it("puts an error's stack inside the record, as one line", () => {
    const error = new Error("boom", { cause: new TypeError("inner") });
    const line = formatRecord(record({ level: "ERROR", error }));
    const out = parse(line);
    expect(out["exception"]).toMatchObject({ type: "Error", message: "boom" });
    expect((out["exception"] as { stack: string }).stack).toContain("caused by: TypeError: inner");
  });

  it("redacts secrets and personal data in the message, data and exception", () => {
    const line = formatRecord(
      record({
        message: "login bob@example.com with Bearer abcdefgh12345",
        data: { password: "hunter2", headers: { authorization: "Bearer xyz123456" }, card: "4111 1111 1111 1111", url: "/cb?token=t0k" },
        error: new Error("card 4111111111111111 refused"),
      }),
    );
    for (const secret of ["bob@example.com", "abcdefgh12345", "hunter2", "xyz123456", "4111 1111", "4111111111111111", "t0k"]) {
      expect(line).not.toContain(secret);
    }
    expect(parse(line)["data"]).toMatchObject({ password: "[REDACTED]", headers: { authorization: "Bearer [REDACTED]" } });
  });

  it("gives one valid JSON record for values JSON cannot hold", () => {
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic["self"] = cyclic;
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error("no keys for you");
        },
      },
    );
    const getter = {
      get broken(): string {
        throw new Error("getter failed");
      },
    };
    const toJson = { toJSON: () => { throw new Error("toJSON failed"); } };
    const line = formatRecord(
      record({
        message: "odd values",
        data: { cyclic, big: 10n ** 30n, fn: () => 1, sym: Symbol("s"), hostile, getter, toJson, nan: NaN, undef: undefined, when: new Date(NaN), map: new Map([["k", new Set([1])]]) },
      }),
    );
    const out = parse(line);
    const data = out["data"] as Record<string, unknown>;
    expect(data["cyclic"]).toEqual({ name: "loop", self: "[CYCLE]" });
    expect(data["big"]).toBe("1000000000000000000000000000000");
    expect(String(data["hostile"])).toContain("unrepresentable");
    expect(String(data["getter"])).toContain("unrepresentable");
    expect(data["nan"]).toBe("NaN");
    expect(data["undef"]).toBeNull();
    expect(data["when"]).toBe("Invalid Date");
    expect(data["map"]).toEqual({ k: [1] });
  });

  it("gives a valid record for a message whose String() throws and for lone surrogates", () => {
    const evil = { toString: () => { throw new Error("no"); } } as unknown as string;
    expect(parse(formatRecord(record({ message: evil })))["message"]).toContain("unrepresentable");
    expect(parse(formatRecord(record({ message: "\ud800x\udfff" })))["message"]).toBe("\ud800x\udfff");
  });

  it("stays under the size cap, marked truncated, with the reserved keys kept", () => {
    const line = formatRecord(record({ message: "m".repeat(50_000), data: { blob: "é".repeat(40_000), list: Array(3000).fill("x") } }));
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    const out = parse(line);
    expect(out["truncated"]).toBe(true);
    expect(out["request_id"]).toBe("req-1");
    const many = formatRecord(record({ data: Object.fromEntries(Array.from({ length: 900 }, (_, i) => [`k${i}`, "v".repeat(40)])) }));
    expect(Buffer.byteLength(many)).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    expect(parse(many)["truncated"]).toBe(true);
  });

  it("bounds depth", () => {
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 50; i++) deep = (deep["d"] = {}) as Record<string, unknown>;
    const out = parse(formatRecord(record({ data: root })));
    expect(JSON.stringify(out["data"])).toContain("[TRUNCATED]");
    expect(out["truncated"]).toBe(true);
  });
});
