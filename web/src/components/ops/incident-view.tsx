import Link from "next/link";

import { normalizeIncidentCode } from "@/lib/ops";
import { getIncident } from "@/lib/ops-api";

import { EventDetail } from "./event-detail";
import { IncidentLookup } from "./incident-lookup";
import { OpsUnavailable } from "./ops-unavailable";
import { RelatedRecords } from "./related-records";
import { When } from "./when";

/** Every event recorded under one incident code. */
export async function IncidentView({ code }: { code: string }) {
  const normalized = normalizeIncidentCode(code);
  const back = (
    <p>
      <Link href="/ops">← Operations</Link>
    </p>
  );
  if (!normalized) {
    return (
      <>
        {back}
        <h1>Incident lookup</h1>
        <IncidentLookup invalid={code} />
      </>
    );
  }
  const result = await getIncident(normalized);
  return (
    <>
      {back}
      <h1>
        Incident <code>{normalized}</code>
      </h1>
      {result.ok ? (
        result.data.events.map((event, i) => (
          <section key={i} className="ops-card" aria-label={`Event ${i + 1}`}>
            <h2>
              {event.message ?? "client error"} <When iso={event.timestamp} now={result.receivedAt} />
            </h2>
            <EventDetail event={event} />
            {result.data.configured ? <RelatedRecords event={event} related={result.data.related} /> : null}
          </section>
        ))
      ) : result.problem.status === 404 ? (
        <section className="ops-card" role="status">
          <h2>Not found</h2>
          <p>No client error with incident {normalized} in the last 7 days. Reports can take a few seconds to arrive.</p>
          <IncidentLookup invalid={null} />
        </section>
      ) : (
        <OpsUnavailable what="Incident lookup" problem={result.problem} />
      )}
    </>
  );
}
