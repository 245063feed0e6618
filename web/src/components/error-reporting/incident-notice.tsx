"use client";

import { useMemo, useSyncExternalStore } from "react";

import { incidentFromDigest } from "@/lib/incident";
import { documentRequestId } from "@/lib/page-request-id";
import { reportError } from "@/lib/report-error";

/** The `digest` Next.js puts on errors from server rendering, if any. */
export function errorDigest(error: unknown): string | undefined {
  const digest = (error as { digest?: unknown } | null)?.digest;
  return typeof digest === "string" && digest ? digest : undefined;
}

const unchanging = (): (() => void) => () => undefined;

/**
 * Reports `error` once and shows a calm notice with the incident code, the page's request id
 * (the one the server's records and the report carry; shown after hydration) and a retry button.
 */
export function IncidentNotice({ error, retry }: { error: unknown; retry: () => void }) {
  // Reporting is idempotent per error (the reporter dedupes and returns the first code), so it
  // can run while rendering; on the server only a digest's code is shown, identical on hydration.
  const incident = useMemo(() => {
    const digest = errorDigest(error);
    if (typeof window === "undefined") return digest ? incidentFromDigest(digest) : "";
    return reportError(error, "boundary", digest);
  }, [error]);
  const requestId = useSyncExternalStore(unchanging, documentRequestId, () => "");

  return (
    <section className="notice" role="alert">
      <h2>Something went wrong</h2>
      <p>This part of the page could not be shown. Trying again usually helps.</p>
      {incident ? (
        <p>
          If it keeps happening, contact support and quote incident code{" "}
          <code data-incident={incident}>{incident}</code>
          {requestId ? (
            <>
              {" "}
              (request <code data-request-id={requestId}>{requestId}</code>)
            </>
          ) : null}
          .
        </p>
      ) : null}
      <button type="button" className="button" onClick={() => retry()}>
        Try again
      </button>
    </section>
  );
}
