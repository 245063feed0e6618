import { notFound } from "next/navigation";

import { ErrorGroupView } from "@/components/ops/error-group-view";
import { OpsGate } from "@/components/ops/ops-gate";
import { normalizeFingerprint } from "@/lib/ops";

export const dynamic = "force-dynamic";

export default async function ErrorGroupPage({ params }: { params: Promise<{ fingerprint: string }> }) {
  const { fingerprint } = await params;
  const normalized = normalizeFingerprint(decodeURIComponent(fingerprint).slice(0, 64));
  if (!normalized) notFound();
  return (
    <OpsGate denied={false}>
      <ErrorGroupView fingerprint={normalized} />
    </OpsGate>
  );
}
