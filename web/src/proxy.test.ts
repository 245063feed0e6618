import { describe, expect, it } from "vitest";

import { RecentlySeen, resourceOf } from "./proxy";

describe("resourceOf", () => {
  it.each([
    ["/products/7", { kind: "products", id: 7 }],
    ["/orders/12", { kind: "orders", id: 12 }],
    ["/products/x", { kind: "products", id: null }],
    ["/products/0", { kind: "products", id: null }],
    ["/products/%E0", { kind: "products", id: null }],
    ["/orders/1e3", { kind: "orders", id: null }],
    ["/products/7/reviews", null],
    ["/products", null],
    ["/", null],
    ["/api/orders/3", null],
  ])("%s", (pathname, expected) => {
    expect(resourceOf(pathname)).toEqual(expected);
  });
});

describe("RecentlySeen", () => {
  it("forgets after the ttl and keeps at most max, oldest out first", () => {
    let now = 1_000;
    const seen = new RecentlySeen(100, 2, () => now);
    seen.add("products/1");
    expect(seen.has("products/1")).toBe(true);
    now += 99;
    expect(seen.has("products/1")).toBe(true);
    now += 1;
    expect(seen.has("products/1")).toBe(false);
    seen.add("products/1");
    seen.add("products/2");
    seen.add("products/1"); // seen again: now the newest
    seen.add("orders/3");
    expect([seen.has("products/1"), seen.has("products/2"), seen.has("orders/3")]).toEqual([true, false, true]);
  });
});
