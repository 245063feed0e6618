import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { routeConsole } from "./console-records";
import { getLogger, setSink } from "./logger";
import { currentRequest } from "./request-context";
import { installRequestHook } from "./request-hook";

const lines: string[] = [];
const seen: { header: string | undefined; traceparent: string | undefined; context: string | undefined }[] = [];
let server: Server;
let base = "";

beforeAll(async () => {
  setSink((line) => lines.push(line));
  installRequestHook();
  installRequestHook(); // idempotent
  server = createServer((req, res) => {
    setTimeout(() => {
      seen.push({
        header: req.headers["x-request-id"] as string | undefined,
        traceparent: req.headers["traceparent"] as string | undefined,
        context: currentRequest()?.requestId,
      });
      getLogger("web.test").info("inside");
      res.writeHead(req.url?.startsWith("/fail") ? 500 : 200, { "content-type": "text/plain" });
      res.end("ok");
    }, 1);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  setSink(null);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function records(): Record<string, unknown>[] {
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 20));
}

describe("the request hook", () => {
  it("gives the handler, its records and the response one checked id and one access record", async () => {
    lines.length = 0;
    const res = await fetch(`${base}/products/7?q=bob%40example.com&page=2`, {
      headers: { "x-request-id": "page-1", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    });
    await res.text();
    await settle();
    expect(res.headers.get("x-request-id")).toBe("page-1");
    expect(res.headers.get("server-timing")).toBe('rid;desc="page-1"');
    expect(seen.at(-1)?.header).toBe("page-1");
    expect(seen.at(-1)?.context).toBe("page-1");
    expect(seen.at(-1)?.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(seen.at(-1)?.traceparent).not.toContain("b7ad6b7169203331");
    const all = records();
    expect(all.map((r) => r["logger"])).toEqual(["web.test", "web.access"]);
    expect(all.every((r) => r["request_id"] === "page-1" && r["trace_id"] === "0af7651916cd43dd8448eb211c80319c")).toBe(true);
    const access = all[1]!;
    expect(access["level"]).toBe("INFO");
    expect(access["data"]).toMatchObject({
      method: "GET",
      path: "/products/7",
      query: "q=[REDACTED]&page=[REDACTED]",
      status: 200,
      aborted: false,
    });
    expect(lines.join("\n")).not.toContain("example.com");
  });

  it.each([
    ["too long", "r".repeat(129)],
    ["unsafe characters", "abc<def>"],
    ["personal data", "bob@example.com"],
  ])("replaces an X-Request-ID that is %s and never logs or echoes it", async (_name, bad) => {
    lines.length = 0;
    const res = await fetch(`${base}/x`, { headers: { "x-request-id": bad } });
    await res.text();
    await settle();
    const id = res.headers.get("x-request-id") ?? "";
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(seen.at(-1)?.header).toBe(id);
    expect(lines.join("\n")).not.toContain(bad);
    expect(records().every((r) => r["request_id"] === id)).toBe(true);
  });

  it("starts a new trace for a traceparent that does not parse", async () => {
    lines.length = 0;
    const res = await fetch(`${base}/x`, { headers: { traceparent: "00-zz-not-hex-01" } });
    await res.text();
    await settle();
    const access = records().find((r) => r["logger"] === "web.access")!;
    expect(access["trace_id"]).toMatch(/^[0-9a-f]{32}$/);
    expect(seen.at(-1)?.traceparent).toBe(`00-${String(access["trace_id"])}-${seen.at(-1)?.traceparent?.slice(36, 52)}-01`);
  });

  it("writes server errors as warnings", async () => {
    lines.length = 0;
    await (await fetch(`${base}/fail`)).text();
    await settle();
    expect(records().find((r) => r["logger"] === "web.access")).toMatchObject({ level: "WARNING", data: { status: 500 } });
  });
});

describe("console output", () => {
  it("becomes one JSON record per call, with the stack inside", () => {
    lines.length = 0;
    const saved = { error: console.error, warn: console.warn, log: console.log };
    routeConsole();
    try {
      console.error(" \u001b[31m⨯\u001b[39m render failed for %s", "/products/[id]", new Error("boom"));
      console.warn("careful", { token: "t0k3n-value" });
      console.log("plain");
      console.log("");
      console.error("⨯", Object.assign(new Error("render"), { digest: "1234567890" }));
    } finally {
      Object.assign(console, saved);
    }
    const all = records();
    expect(all).toHaveLength(4);
    expect(all[3]).toMatchObject({ level: "ERROR", message: "⨯", data: { digest: "1234567890" } });
    expect(all[0]).toMatchObject({ level: "ERROR", logger: "next", message: "⨯ render failed for /products/[id]" });
    expect((all[0]!["exception"] as { stack: string }).stack).toContain("Error: boom\n    at ");
    expect(all[1]).toMatchObject({ level: "WARNING" });
    expect(lines[1]).not.toContain("t0k3n-value");
    expect(all[2]).toMatchObject({ level: "INFO", message: "plain" });
  });
});
