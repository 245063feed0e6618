import { notFound } from "next/navigation";

import { ReportingErrorBoundary } from "@/components/error-reporting/error-boundary";
import { diagnosticsEnabled } from "@/lib/env";

import { RenderBomb } from "./render-bomb";

export const dynamic = "force-dynamic";

export default function BoundaryErrorPage() {
  if (!diagnosticsEnabled()) notFound();
  return (
    <ReportingErrorBoundary>
      <RenderBomb />
    </ReportingErrorBoundary>
  );
}
