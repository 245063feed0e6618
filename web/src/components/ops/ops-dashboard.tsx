import Link from "next/link";

import type { GroupStatus } from "@/lib/ops";
import { getClientErrors, getSummary, getTraffic } from "@/lib/ops-api";

import { ErrorGroups } from "./error-groups";
import { IncidentLookup } from "./incident-lookup";
import { OpsUnavailable } from "./ops-unavailable";
import { ShippingCounters } from "./shipping-counters";
import { TrafficChart } from "./traffic-chart";
import { UpstreamTable } from "./upstream-table";

const WINDOW_LABELS: [number, string][] = [
  [60, "1 hour"],
  [360, "6 hours"],
  [1440, "24 hours"],
  [10080, "7 days"],
];

const STATUS_LABELS: [GroupStatus, string][] = [
  ["open", "Open"],
  ["resolved", "Resolved"],
  ["all", "All"],
];

/** The whole ops overview; each section degrades on its own when its data is unavailable. */
export async function OpsDashboard({
  sinceMinutes,
  status,
  badIncident,
}: {
  sinceMinutes: number;
  status: GroupStatus;
  badIncident: string | null;
}) {
  const [summary, errors, traffic] = await Promise.all([getSummary(), getClientErrors(sinceMinutes, status), getTraffic(60)]);
  return (
    <>
      <h1>Operations</h1>
      {summary.ok ? (
        <p className="ops-muted">
          BFF {summary.data.service} {summary.data.version} · {summary.data.environment}
        </p>
      ) : null}

      <section className="ops-card" aria-labelledby="ops-incident-title">
        <h2 id="ops-incident-title">Find an incident</h2>
        <IncidentLookup invalid={badIncident} />
      </section>

      <section className="ops-card" aria-labelledby="ops-upstreams-title">
        <h2 id="ops-upstreams-title">Upstreams</h2>
        {summary.ok ? <UpstreamTable upstreams={summary.data.upstreams} /> : <OpsUnavailable what="Upstream health" problem={summary.problem} />}
      </section>

      <section className="ops-card" aria-labelledby="ops-traffic-title">
        <h2 id="ops-traffic-title">Traffic, last hour</h2>
        {!traffic.ok ? (
          <OpsUnavailable what="Traffic" problem={traffic.problem} />
        ) : (
          <TrafficChart buckets={traffic.data.buckets} />
        )}
      </section>

      <section className="ops-card" aria-labelledby="ops-errors-title">
        <h2 id="ops-errors-title">Client errors</h2>
        <nav aria-label="Time window" className="ops-windows">
          {WINDOW_LABELS.map(([minutes, label]) => (
            <Link key={minutes} href={`/ops?since=${minutes}&status=${status}`} aria-current={minutes === sinceMinutes ? "page" : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <nav aria-label="Status" className="ops-windows">
          {STATUS_LABELS.map(([value, label]) => (
            <Link key={value} href={`/ops?since=${sinceMinutes}&status=${value}`} aria-current={value === status ? "page" : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        {!errors.ok ? (
          <OpsUnavailable what="Client errors" problem={errors.problem} />
        ) : (
          <>
            <ErrorGroups groups={errors.data.groups} now={errors.receivedAt} />
            {errors.data.truncated ? (
              <p className="ops-muted">
                Showing {errors.data.groups.length} of {errors.data.matched} groups.
              </p>
            ) : null}
          </>
        )}
      </section>

      <section className="ops-card" aria-labelledby="ops-shipping-title">
        <h2 id="ops-shipping-title">Log shipping</h2>
        {summary.ok ? <ShippingCounters logging={summary.data.logging} /> : <OpsUnavailable what="Log shipping" problem={summary.problem} />}
      </section>
    </>
  );
}
