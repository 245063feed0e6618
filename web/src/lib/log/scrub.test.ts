import { describe, expect, it } from "vitest";

import { requestIdFrom } from "./request-context";
import { cleanText, isSensitiveKey, queryShape, redactedValue, scrubPath, scrubQuery } from "./scrub";
import answers from "./scrub-cases.json";

const cases = answers as {
  clean_text: [string, string][];
  scrub_query: [string, string][];
  scrub_path: [string, string][];
  sensitive_key: [string, boolean][];
  request_id_kept: [string, boolean][];
};

// scrub-cases.json holds logship's own answers (scripts/scrub_cases.py): the web's records
// must be cleaned exactly like every other service's.
describe("the same rules as logship", () => {
  it.each(cases.clean_text)("cleanText(%j)", (text, expected) => {
    expect(cleanText(text)).toBe(expected);
  });
  it.each(cases.scrub_query)("scrubQuery(%j)", (query, expected) => {
    expect(scrubQuery(query)).toBe(expected);
  });
  it.each(cases.scrub_path)("scrubPath(%j)", (path, expected) => {
    expect(scrubPath(path)).toBe(expected);
  });
  it.each(cases.sensitive_key)("isSensitiveKey(%j)", (key, expected) => {
    expect(isSensitiveKey(key)).toBe(expected);
  });
  it.each(cases.request_id_kept)("requestIdFrom(%j) keeps it: %j", (value, kept) => {
    const id = requestIdFrom(value);
    expect(id === value).toBe(kept);
    if (!kept) expect(id).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("access record queries", () => {
  it.each([
    ["q=mug&page=2", "q=[REDACTED]&page=[REDACTED]"],
    ["?email=bob%40example.com", "email=[REDACTED]"],
    ["bob@example.com=1", "[email]=[REDACTED]"],
    ["flag&x=&y", "flag&x=&y"],
    ["", ""],
  ])("queryShape(%j) keeps no value", (query, expected) => {
    expect(queryShape(query)).toBe(expected);
  });
});

describe("redacted values", () => {
  it("keeps an authorization scheme and cookie names, nothing else", () => {
    expect(redactedValue("Authorization", "Bearer abc.def")).toBe("Bearer [REDACTED]");
    expect(redactedValue("cookie", "sid=1; theme=dark")).toBe("sid=[REDACTED]; theme=[REDACTED]");
    expect(redactedValue("set-cookie", "sid=1; Path=/; HttpOnly")).toBe("sid=[REDACTED]; Path=/; HttpOnly");
    expect(redactedValue("password", "hunter2")).toBe("[REDACTED]");
    expect(redactedValue("token", { nested: "x" })).toBe("[REDACTED]");
  });
});

describe("hostile input", () => {
  it.each([
    ["long local part", "a".repeat(200_000) + "@"],
    ["jwt starts", "eyJ-".repeat(50_000)],
    ["digit groups", "1 ".repeat(100_000)],
    ["digit run", "4".repeat(200_000)],
    ["query starts", "?a=".repeat(60_000)],
    ["assignments", "x=".repeat(100_000)],
    ["percents", "%".repeat(200_000) + "?q=%"],
    ["lone surrogates", "\ud800 a@b.co \udfff"],
  ])("%s: returns without throwing (the test's timeout catches a super-linear rule)", (_name, text) => {
    expect(typeof cleanText(text)).toBe("string");
    expect(typeof scrubPath(text)).toBe("string");
    expect(typeof scrubQuery(text)).toBe("string");
  });
});
