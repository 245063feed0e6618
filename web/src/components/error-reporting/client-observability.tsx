"use client";

import { useParams, usePathname } from "next/navigation";
import { useReportWebVitals } from "next/web-vitals";
import { useEffect } from "react";

import { RELEASE } from "@/lib/release";
import { addBreadcrumb, installErrorReporting, setReportRoute } from "@/lib/report-error";
import { createVitalsReporter, type VitalMetric } from "@/lib/report-vitals";
import { routePattern } from "@/lib/route-pattern";

let vitals: ReturnType<typeof createVitalsReporter> | undefined;
let currentRoute = "";

// Listen as soon as this module loads, before hydration, so early errors are caught too.
if (typeof window !== "undefined") installErrorReporting();

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

// Module-level so the hook registers it once (a new function per render would re-subscribe).
function reportVital(metric: VitalMetric): void {
  try {
    pageVitals().add(metric, `${location.origin}${location.pathname}`, currentRoute || location.pathname);
  } catch {
    // vitals are best effort
  }
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

  useReportWebVitals(reportVital);

  return null;
}
