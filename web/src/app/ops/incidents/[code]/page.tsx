import { IncidentView } from "@/components/ops/incident-view";
import { OpsGate } from "@/components/ops/ops-gate";

export const dynamic = "force-dynamic";

export default async function IncidentPage({ params }: { params: Promise<{ code: string }> }) {
  const { code } = await params;
  return (
    <OpsGate denied={false}>
      <IncidentView code={decodeURIComponent(code).slice(0, 64)} />
    </OpsGate>
  );
}
