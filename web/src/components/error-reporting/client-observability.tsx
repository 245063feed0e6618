"use client";

import { useParams, usePathname } from "next/navigation";
import { useEffect } from "react";

import { documentRequestId } from "@/lib/page-request-id";
import { RELEASE } from "@/lib/release";
import { addBreadcrumb, installErrorReporting, setReportRoute } from "@/lib/report-error";
import { createVitalsReporter, type VitalMetric } from "@/lib/report-vitals";
import { routePattern } from "@/lib/route-pattern";

let vitals: ReturnType<typeof createVitalsReporter> | undefined;
let currentRoute = "";

// Listen as soon as this module loads, before hydration, so early errors are caught too. Reports
// carry the document's request id, so an incident links to the server render's records.
if (typeof window !== "undefined") installErrorReporting(documentRequestId());

function pageVitals(): ReturnType<typeof createVitalsReporter> {
  if (!vitals) {
    const reporter = createVitalsReporter(
      {
        fetch: window.fetch.bind(window),
        sendBeacon: (url, body) => navigator.sendBeacon(url, body),
      },
      RELEASE,
    );
    const leave = (): void => reporter.flush(true);
    addEventListener("pagehide", leave);
    addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") leave();
    });
    vitals = reporter;
  }
  return vitals;
}

function reportVital(metric: VitalMetric): void {
  try {
    pageVitals().add(metric, `${location.origin}${location.pathname}`, currentRoute || location.pathname);
  } catch {
    // vitals are best effort
  }
}

let vitalsStarted = false;

/**
 * Web Vitals are observed from when the browser is idle after load, so the library is neither
 * parsed nor run in the start-up task; its observers are `buffered`, so LCP, FCP, TTFB and CLS
 * entries from before are still seen.
 */
function startVitals(): void {
  if (vitalsStarted) return;
  vitalsStarted = true;
  const load = (): void => {
    import("web-vitals")
      .then(({ onCLS, onFCP, onINP, onLCP, onTTFB }) => {
        for (const observe of [onCLS, onFCP, onINP, onLCP, onTTFB]) observe(reportVital);
      })
      .catch(() => undefined);
  };
  if ("requestIdleCallback" in window) requestIdleCallback(load, { timeout: 3000 });
  else setTimeout(load, 1000);
}

/** Installs the error reporter's listeners once, records navigations and reports Web Vitals. */
export function ClientObservability() {
  const pathname = usePathname();
  const route = routePattern(pathname, useParams());

  useEffect(() => {
    currentRoute = route;
    setReportRoute(route);
    addBreadcrumb("navigation", { to: pathname, route });
  }, [pathname, route]);

  useEffect(startVitals, []);

  return null;
}
