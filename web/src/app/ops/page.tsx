import { redirect } from "next/navigation";

import { OpsDashboard } from "@/components/ops/ops-dashboard";
import { OpsGate } from "@/components/ops/ops-gate";
import { normalizeIncidentCode, type GroupStatus } from "@/lib/ops";

export const dynamic = "force-dynamic";

type SearchParams = Record<string, string | string[] | undefined>;

function first(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? "";
}

const WINDOWS = [60, 360, 1440, 10080];
const STATUSES: GroupStatus[] = ["open", "resolved", "all"];

export default async function OpsPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const params = await searchParams;
  const incident = first(params["incident"]).trim().slice(0, 64);
  const code = incident ? normalizeIncidentCode(incident) : null;
  if (code) redirect(`/ops/incidents/${code}`);
  const since = Number.parseInt(first(params["since"]), 10);
  const status = STATUSES.find((s) => s === first(params["status"])) ?? "open";
  return (
    <OpsGate denied={first(params["denied"]) === "1"}>
      <OpsDashboard
        sinceMinutes={WINDOWS.includes(since) ? since : 1440}
        status={status}
        badIncident={incident && !code ? incident : null}
      />
    </OpsGate>
  );
}
