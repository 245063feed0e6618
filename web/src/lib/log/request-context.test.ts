import { describe, expect, it } from "vitest";

import { childTraceparent, contextFrom, currentRequest, runWithRequest, serverTraceparent } from "./request-context";

const TRACE = "0af7651916cd43dd8448eb211c80319c";

describe("request ids", () => {
  it.each([
    ["too long", "a".repeat(129)],
    ["unsafe characters", "abc<script>"],
    ["header injection", "abc\r\nx-evil: 1"],
    ["a card number", "4111111111111111"],
    ["an e-mail address", "bob@example.com"],
    ["empty", ""],
  ])("replaces one that is %s by a fresh id", (_name, value) => {
    const id = contextFrom(value, null).requestId;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(id).not.toBe(value);
  });

  it("keeps a valid one", () => {
    expect(contextFrom("req-20260102.a_b", null).requestId).toBe("req-20260102.a_b");
  });
});

describe("trace context", () => {
  it("continues a valid traceparent with a new span of its own", () => {
    const ctx = contextFrom(null, `00-${TRACE}-b7ad6b7169203331-01`);
    expect(ctx.traceId).toBe(TRACE);
    expect(ctx.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(ctx.spanId).not.toBe("b7ad6b7169203331");
    expect(serverTraceparent(ctx)).toBe(`00-${TRACE}-${ctx.spanId}-01`);
    const child = childTraceparent(ctx);
    expect(child).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    expect(child).not.toBe(childTraceparent(ctx));
  });

  it.each([
    ["garbage", "not-a-traceparent"],
    ["zero trace id", `00-${"0".repeat(32)}-b7ad6b7169203331-01`],
    ["zero span id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["short trace id", "00-0af7651916cd43dd-b7ad6b7169203331-01"],
    ["unknown version", `ff-${TRACE}-b7ad6b7169203331-01`],
    ["trailing data", `00-${TRACE}-b7ad6b7169203331-01-extra`],
  ])("starts a new trace for %s", (_name, header) => {
    const ctx = contextFrom(null, header);
    expect(ctx.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ctx.traceId).not.toBe(TRACE);
    expect(ctx.flags).toBe("01");
  });

  it("is the current request inside runWithRequest only, across awaits", async () => {
    const ctx = contextFrom("r-1", null);
    expect(currentRequest()).toBeUndefined();
    await runWithRequest(ctx, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect(currentRequest()).toBe(ctx);
    });
    expect(currentRequest()).toBeUndefined();
  });
});
