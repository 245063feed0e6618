"use client";

import { IncidentNotice } from "@/components/error-reporting/incident-notice";

// Replaces the root layout when it fails, so it brings its own document and no global styles.
export default function GlobalError({ error, retry }: { error: unknown; retry: () => void }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: "system-ui, sans-serif", margin: "2rem auto", maxWidth: "40rem", padding: "0 1rem" }}>
        <title>Something went wrong</title>
        <IncidentNotice error={error} retry={retry} />
      </body>
    </html>
  );
}
