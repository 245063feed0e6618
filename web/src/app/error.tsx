"use client";

import { IncidentNotice } from "@/components/error-reporting/incident-notice";

export default function ErrorPage({ error, retry }: { error: unknown; retry: () => void }) {
  return <IncidentNotice error={error} retry={retry} />;
}
