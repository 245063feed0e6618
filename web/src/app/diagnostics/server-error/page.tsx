import { notFound } from "next/navigation";

import { diagnosticsEnabled } from "@/lib/env";

export const dynamic = "force-dynamic";

function renderOrders(): never {
  throw new Error("diagnostics: server render error");
}

export default function ServerErrorPage() {
  if (!diagnosticsEnabled()) notFound();
  return renderOrders();
}
