import { notFound } from "next/navigation";

import { diagnosticsEnabled } from "@/lib/env";

import { LoadForeignImage } from "./load-foreign-image";

export const dynamic = "force-dynamic";

export default function CspViolationPage() {
  if (!diagnosticsEnabled()) notFound();
  return <LoadForeignImage />;
}
