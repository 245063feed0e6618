import { notFound } from "next/navigation";

import { diagnosticsEnabled } from "@/lib/env";

import { ThrowUncaught } from "./throw-uncaught";

export const dynamic = "force-dynamic";

export default function UncaughtErrorPage() {
  if (!diagnosticsEnabled()) notFound();
  return <ThrowUncaught />;
}
