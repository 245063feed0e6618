/**
 * Web Vitals for the BFF's `POST /api/vitals`: batched per page view, sent with keepalive
 * fetch, or with sendBeacon when the page is hidden or goes away.
 */

import { retryAt } from "./report-error";

export const VITALS_ENDPOINT = "/api/vitals";
const NAMES = new Set(["LCP", "INP", "CLS", "FCP", "TTFB"]);
const BATCH_SIZE = 10;
const FLUSH_DELAY_MS = 5_000;

export type VitalMetric = {
  name: string;
  value: number;
  rating?: string;
  id: string;
  navigationType?: string;
};

type Vital = Required<Pick<VitalMetric, "name" | "value" | "rating" | "id" | "navigationType">>;

export type VitalsBatch = { v: 1; release: string; url: string; route: string; metrics: Vital[] };

export type VitalsDeps = {
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  sendBeacon?: ((url: string, body: string) => boolean) | undefined;
  now?: () => number;
};

/** A batcher of Web Vitals with its edges passed in. */
export function createVitalsReporter(deps: VitalsDeps, release: string) {
  const now = deps.now ?? Date.now;
  let metrics: Vital[] = [];
  let page = { url: "", route: "" };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let blockedUntil = 0;

  /** Send the batch (beacon when the page is going away); never throws. */
  function flush(beacon = false): void {
    clearTimeout(timer);
    timer = undefined;
    if (metrics.length === 0) return;
    const batch: VitalsBatch = { v: 1, release, ...page, metrics };
    metrics = [];
    if (now() < blockedUntil) return;
    const body = JSON.stringify(batch);
    try {
      if (beacon && deps.sendBeacon?.(VITALS_ENDPOINT, body)) return;
    } catch {
      // fall back to fetch
    }
    try {
      deps
        .fetch(VITALS_ENDPOINT, {
          method: "POST",
          body,
          keepalive: true,
          headers: { "content-type": "application/json" },
        })
        .then((res) => {
          if (res.status === 429) blockedUntil = retryAt(res.headers.get("retry-after"), now());
        })
        .catch(() => undefined);
    } catch {
      // vitals are best effort
    }
  }

  /** Queue one metric for the page at `url` / `route`; a new page flushes the previous one's. */
  function add(metric: VitalMetric, url: string, route: string): void {
    if (!NAMES.has(metric.name) || !Number.isFinite(metric.value)) return;
    if (page.url !== url || page.route !== route) flush();
    page = { url, route };
    metrics.push({
      name: metric.name,
      value: metric.value,
      rating: metric.rating ?? "",
      id: metric.id,
      navigationType: metric.navigationType ?? "",
    });
    if (metrics.length >= BATCH_SIZE) flush();
    else timer ??= setTimeout(() => flush(), FLUSH_DELAY_MS);
  }

  return { add, flush };
}
