import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { getItem, listItems, PAGE_SIZE } from "./bff";

let server: Server;
let base = "";
const urls: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    urls.push(req.url ?? "");
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
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const result = await getItem(1);
    expect(result).toMatchObject({ ok: false, status: 500 });
    expect(errors).toHaveBeenCalledWith(expect.stringContaining("BFF_URL"));
    errors.mockRestore();
    vi.unstubAllEnvs();
  });
});
