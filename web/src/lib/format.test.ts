import { describe, expect, it } from "vitest";

import { formatCount, formatDateTime, formatPrice, formatStock, parseId } from "./format";

describe("formatPrice", () => {
  it.each([
    ["12.50", "EUR", "€12.50"],
    ["0.00", "EUR", "€0.00"],
    ["1234.5", "USD", "US$1,234.50"],
    ["abc", "EUR", "abc EUR"],
    ["", "EUR", " EUR"],
    ["12.50", "NOTACURRENCY", "12.50 NOTACURRENCY"],
  ])("%s %s -> %s", (amount, currency, expected) => {
    expect(formatPrice(amount, currency)).toBe(expected);
  });
});

describe("formatDateTime", () => {
  it("formats in UTC regardless of the machine's zone", () => {
    expect(formatDateTime("2026-03-03T14:05:09.123Z")).toBe("3 Mar 2026, 14:05 UTC");
    expect(formatDateTime("2026-03-03T14:05:09+01:00")).toBe("3 Mar 2026, 13:05 UTC");
  });

  it("returns input it cannot parse", () => {
    expect(formatDateTime("yesterday")).toBe("yesterday");
  });
});

describe("formatCount and formatStock", () => {
  it.each([
    [0, "0 items"],
    [1, "1 item"],
    [1234, "1,234 items"],
  ])("%i -> %s", (count, expected) => {
    expect(formatCount(count, "item")).toBe(expected);
  });

  it.each([
    [0, "Out of stock"],
    [3, "Only 3 left"],
    [120, "In stock"],
  ])("stock %i -> %s", (stock, expected) => {
    expect(formatStock(stock)).toBe(expected);
  });
});

describe("parseId", () => {
  it.each([
    ["1", 1],
    ["42", 42],
    ["0", null],
    ["-1", null],
    ["4x", null],
    ["1e3", null],
    ["01", null],
    ["9".repeat(16), null],
    ["", null],
  ])("%s -> %s", (segment, expected) => {
    expect(parseId(segment)).toBe(expected);
  });
});
