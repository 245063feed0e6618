import { describe, expect, it } from "vitest";

import { resourceOf } from "./proxy";

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
