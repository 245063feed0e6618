import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { apiRequest, buildUrl } from "./api-client";

type Seen = { method: string; url: string; headers: IncomingMessage["headers"]; body: string };

let server: Server;
let base = "";
const seen: Seen[] = [];

function reply(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": type, ...headers });
  res.end(body);
}

/** A stand-in for the BFF: answers by path, records what it received. */
function handle(req: IncomingMessage, res: ServerResponse, body: string) {
  seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
  const path = (req.url ?? "").split("?")[0];
  switch (path) {
    case "/api/catalog/items":
      return reply(res, 200, "application/json", JSON.stringify({ items: [], page: 1, page_size: 12, total: 0, pages: 0 }), {
        "x-request-id": String(req.headers["x-request-id"]),
      });
    case "/api/catalog/items/7":
      return reply(res, 404, "application/problem+json", JSON.stringify({ type: "about:blank", title: "Not Found", status: 404, detail: "Item 7 does not exist.", instance: "/catalog/items/7" }));
    case "/api/orders":
      return reply(res, 422, "application/problem+json", JSON.stringify({
        type: "about:blank", title: "Unprocessable Content", status: 422, detail: "The request body failed validation.",
        instance: "/orders", errors: [{ field: "customer_email", message: "Must be a valid email address." }],
      }), { "x-request-id": "from-bff" });
    case "/api/orders/1":
      return reply(res, 502, "application/problem+json", JSON.stringify({ type: "urn:bff:problem:upstream-unreachable", title: "Bad Gateway", status: 502, request_id: "bff-id" }));
    case "/api/orders/2":
      return reply(res, 503, "text/html", "<h1>Service Unavailable</h1>");
    case "/api/orders/3":
      return reply(res, 200, "text/plain", "not json");
    case "/api/ops/client-errors/0123456789abcdef/resolution":
      return reply(res, 200, "application/json", JSON.stringify({ fingerprint: "0123456789abcdef", status: "resolved", resolved_at: null, resolved_release: null }));
    case "/api/orders/4":
      setTimeout(() => reply(res, 200, "application/json", "{}"), 2_000);
      return;
    default:
      return reply(res, 404, "text/plain", "no");
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => handle(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("buildUrl", () => {
  it.each([
    ["", "/api/catalog/items", undefined, { page: 2, q: "mug" }, "/api/catalog/items?page=2&q=mug"],
    ["http://bff:8080/", "/api/catalog/items", undefined, { q: "" }, "http://bff:8080/api/catalog/items"],
    ["", "/api/catalog/items", undefined, { q: "a&b=c d" }, "/api/catalog/items?q=a%26b%3Dc+d"],
    ["", "/api/orders/{order_id}", { order_id: 5 }, undefined, "/api/orders/5"],
    ["", "/api/orders/{order_id}", { order_id: "../x" }, undefined, "/api/orders/..%2Fx"],
  ])("%s %s", (b, template, path, query, expected) => {
    expect(buildUrl(b, template, path, query)).toBe(expected);
  });

  it("refuses a missing path parameter", () => {
    expect(() => buildUrl("", "/api/orders/{order_id}", {})).toThrow(/order_id/);
  });
});

describe("apiRequest against a local stub", () => {
  it("sends the query, accept and request id, and returns typed data", async () => {
    const result = await apiRequest(base, "get", "/api/catalog/items", {
      query: { page: 1, page_size: 12, q: "mug" },
      requestId: "test-req-1",
    });
    expect(result).toEqual({ ok: true, status: 200, data: { items: [], page: 1, page_size: 12, total: 0, pages: 0 }, requestId: "test-req-1" });
    const last = seen.at(-1);
    expect(last?.url).toBe("/api/catalog/items?page=1&page_size=12&q=mug");
    expect(last?.headers["accept"]).toBe("application/json");
    expect(last?.headers["x-request-id"]).toBe("test-req-1");
  });

  it("sends a credential header and the caller's request id on a PUT, never letting it replace its own", async () => {
    const result = await apiRequest(base, "put", "/api/ops/client-errors/{fingerprint}/resolution", {
      path: { fingerprint: "0123456789abcdef" },
      requestId: "page-req-9",
      headers: { Authorization: "Bearer t0ken", "X-Request-ID": "forged", Traceparent: "forged" },
    });
    expect(result.ok && result.data.status).toBe("resolved");
    const last = seen.at(-1);
    expect(last?.method).toBe("PUT");
    expect(last?.headers["authorization"]).toBe("Bearer t0ken");
    expect(last?.headers["x-request-id"]).toBe("page-req-9");
    expect(last?.headers["traceparent"]).toBeUndefined();
  });

  it("posts JSON and maps a 422 problem with the BFF's request id", async () => {
    const result = await apiRequest(base, "post", "/api/orders", {
      body: { items: [{ item_id: 1, quantity: 1 }], customer_email: "nope" },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.status).toBe(422);
    expect(result.requestId).toBe("from-bff");
    expect(result.problem.errors?.[0]?.field).toBe("customer_email");
    const last = seen.at(-1);
    expect(last?.method).toBe("POST");
    expect(last?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(last?.body ?? "")).toEqual({ items: [{ item_id: 1, quantity: 1 }], customer_email: "nope" });
  });

  it("passes a 404 problem through", async () => {
    const result = await apiRequest(base, "get", "/api/catalog/items/{item_id}", { path: { item_id: 7 } });
    expect(result.ok === false && result.problem.detail).toBe("Item 7 does not exist.");
  });

  it("prefers the request id inside a BFF problem", async () => {
    const result = await apiRequest(base, "get", "/api/orders/{order_id}", { path: { order_id: 1 }, requestId: "mine" });
    expect(result).toMatchObject({ ok: false, status: 502, requestId: "bff-id" });
  });

  it("names a status that came without problem+json", async () => {
    const result = await apiRequest(base, "get", "/api/orders/{order_id}", { path: { order_id: 2 } });
    expect(result).toMatchObject({ ok: false, status: 503, problem: { status: 503, title: "Service Unavailable" } });
  });

  it("treats a 2xx without a JSON object as a bad gateway", async () => {
    const result = await apiRequest(base, "get", "/api/orders/{order_id}", { path: { order_id: 3 } });
    expect(result).toMatchObject({ ok: false, status: 502 });
  });

  it("turns a slow answer into a 504", async () => {
    const result = await apiRequest(base, "get", "/api/orders/{order_id}", { path: { order_id: 4 }, timeoutMs: 100 });
    expect(result).toMatchObject({ ok: false, status: 504, problem: { title: "Gateway Timeout" } });
  });

  it("turns a refused connection into a 502 with the request id it sent", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await apiRequest(`http://127.0.0.1:${port}`, "get", "/api/catalog/items", { requestId: "refused-1" });
    expect(result).toMatchObject({ ok: false, status: 502, requestId: "refused-1" });
  });
});
