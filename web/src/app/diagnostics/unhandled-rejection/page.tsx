import { notFound } from "next/navigation";

import { diagnosticsEnabled } from "@/lib/env";

import { RejectUnhandled } from "./reject-unhandled";

export const dynamic = "force-dynamic";

export default function UnhandledRejectionPage() {
  if (!diagnosticsEnabled()) notFound();
  return <RejectUnhandled />;
}
