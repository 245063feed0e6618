import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { getItem, listItems, PAGE_SIZE } from "./bff";
import { setSink } from "./log/logger";
import { contextFrom, runWithRequest } from "./log/request-context";

let server: Server;
let base = "";
const urls: string[] = [];
const sent: { requestId: string; traceparent: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    urls.push(req.url ?? "");
    sent.push({ requestId: String(req.headers["x-request-id"]), traceparent: String(req.headers["traceparent"]) });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ items: [], page: 1, page_size: PAGE_SIZE, total: 0, pages: 0 }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("server-side BFF client", () => {
  it("calls BFF_URL as it is at call time", async () => {
    vi.stubEnv("BFF_URL", base);
    const result = await listItems({ page: 2, q: "mug" });
    expect(result.ok).toBe(true);
    expect(urls.at(-1)).toBe(`/api/catalog/items?page=2&page_size=${PAGE_SIZE}&q=mug`);
    await listItems({ page: 1, q: "" });
    expect(urls.at(-1)).toBe(`/api/catalog/items?page=1&page_size=${PAGE_SIZE}`);
    vi.unstubAllEnvs();
  });

  it("answers a bad BFF_URL with a 500 problem instead of throwing", async () => {
    vi.stubEnv("BFF_URL", "ftp://nope");
    const lines: string[] = [];
    setSink((line) => lines.push(line));
    const result = await getItem(1);
    setSink(null);
    expect(result).toMatchObject({ ok: false, status: 500 });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "ERROR", logger: "web.bff" });
    expect(JSON.parse(lines[0]!).message).toContain("BFF_URL");
    vi.unstubAllEnvs();
  });

  it("sends the page request's id and a child of its trace with every call of a render", async () => {
    vi.stubEnv("BFF_URL", base);
    const page = contextFrom("page-view-1", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    sent.length = 0;
    await runWithRequest(page, () => Promise.all([listItems({ page: 1, q: "" }), getItem(7)]));
    vi.unstubAllEnvs();
    expect(sent.map((s) => s.requestId)).toEqual(["page-view-1", "page-view-1"]);
    const spans = sent.map((s) => /^00-0af7651916cd43dd8448eb211c80319c-([0-9a-f]{16})-01$/.exec(s.traceparent)?.[1]);
    expect(spans.every(Boolean)).toBe(true);
    expect(new Set([...spans, page.spanId, "b7ad6b7169203331"]).size).toBe(4);
  });
});
