import { describe, expect, it } from "vitest";

import { describeProblem, fieldErrors, isProblem, makeProblem, type Problem } from "./problem";

const upstream422: Problem = {
  type: "about:blank",
  title: "Unprocessable Content",
  status: 422,
  detail: "The request body failed validation.",
  instance: "/orders",
  errors: [
    { field: "customer_email", message: "Must be a valid email address." },
    { field: "items.0.quantity", message: "Input should be less than or equal to 100" },
    { field: "items.0.item_id", message: "Item 9 does not exist." },
  ],
};

describe("isProblem", () => {
  it.each([
    ["BFF problem with request id", { type: "urn:bff:problem:upstream-timeout", title: "Gateway Timeout", status: 504, request_id: "r1" }, true],
    ["upstream problem with errors", upstream422, true],
    ["errors null (FastAPI model)", { type: "about:blank", title: "x", status: 400, errors: null }, true],
    ["missing title", { type: "about:blank", status: 400 }, false],
    ["status as string", { type: "about:blank", title: "x", status: "400" }, false],
    ["malformed field error", { type: "about:blank", title: "x", status: 422, errors: [{ field: 1 }] }, false],
    ["array", [], false],
    ["null", null, false],
  ])("%s", (_, value, expected) => {
    expect(isProblem(value)).toBe(expected);
  });
});

describe("describeProblem", () => {
  it.each([
    [502, "We can't reach the catalog right now"],
    [503, "The catalog is temporarily unavailable"],
    [504, "The catalog is taking too long to answer"],
    [500, "The catalog ran into a problem"],
    [429, "Too many requests"],
  ])("words an outage (%i) without internals", (status, heading) => {
    const words = describeProblem(makeProblem(status, "Bad Gateway", "connect ECONNREFUSED 127.0.0.1:8001"), "catalog");
    expect(words.heading).toBe(heading);
    expect(words.message).not.toContain("ECONNREFUSED");
    expect(words.retryable).toBe(true);
  });

  it("points at the fields of a validation error instead of its status text", () => {
    const words = describeProblem(upstream422, "order service");
    expect(words.heading).toMatch(/^Please check the highlighted field/);
    expect(words.heading).not.toContain("Unprocessable");
    expect(words.retryable).toBe(false);
  });

  it("keeps the detail of a client error without field errors", () => {
    const words = describeProblem({ ...upstream422, errors: [] }, "order service");
    expect(words).toEqual({
      heading: "Unprocessable Content",
      message: "The request body failed validation.",
      retryable: false,
    });
  });
});

describe("fieldErrors", () => {
  it("groups messages by field path", () => {
    const grouped = fieldErrors(upstream422);
    expect(grouped.get("customer_email")).toEqual(["Must be a valid email address."]);
    expect([...grouped.keys()]).toHaveLength(3);
  });

  it("maps known paths to form fields and collects the rest under the empty key", () => {
    const known = new Map([
      ["customer_email", "email"],
      ["items.0.quantity", "quantity"],
    ]);
    const grouped = fieldErrors(upstream422, known);
    expect(grouped.get("email")).toEqual(["Must be a valid email address."]);
    expect(grouped.get("quantity")).toEqual(["Input should be less than or equal to 100"]);
    expect(grouped.get("")).toEqual(["Item 9 does not exist."]);
  });

  it("is empty without errors", () => {
    expect(fieldErrors(makeProblem(502, "Bad Gateway", "down")).size).toBe(0);
  });
});
