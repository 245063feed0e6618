import { afterEach, describe, expect, it } from "vitest";

import { bffUrl, ConfigError } from "./env";

const saved = process.env["BFF_URL"];

afterEach(() => {
  if (saved === undefined) delete process.env["BFF_URL"];
  else process.env["BFF_URL"] = saved;
});

describe("bffUrl", () => {
  it.each([
    [undefined, "http://127.0.0.1:8080"],
    ["", "http://127.0.0.1:8080"],
    ["  http://bff:8080/  ", "http://bff:8080"],
    ["https://bff.internal/base/", "https://bff.internal/base"],
  ])("%j -> %s", (raw, expected) => {
    if (raw === undefined) delete process.env["BFF_URL"];
    else process.env["BFF_URL"] = raw;
    expect(bffUrl()).toBe(expected);
  });

  it.each(["bff:8080", "ftp://bff", "http://u:p@bff", "http://bff/?x=1", "http://bff/#f", "not a url"])(
    "rejects %s naming the variable",
    (raw) => {
      process.env["BFF_URL"] = raw;
      expect(() => bffUrl()).toThrow(ConfigError);
      expect(() => bffUrl()).toThrow(/BFF_URL/);
    },
  );

  it("is read on every call, never cached", () => {
    process.env["BFF_URL"] = "http://one:1";
    expect(bffUrl()).toBe("http://one:1");
    process.env["BFF_URL"] = "http://two:2";
    expect(bffUrl()).toBe("http://two:2");
  });
});
