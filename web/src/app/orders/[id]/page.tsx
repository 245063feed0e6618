import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";

import { OrderSummary } from "@/components/orders/order-summary";
import { UpstreamProblem } from "@/components/status/upstream-problem";
import { getOrder } from "@/lib/bff";
import { parseId } from "@/lib/format";

export const dynamic = "force-dynamic";

type Params = Promise<{ id: string }>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  return { title: `Order ${parseId((await params).id) ?? ""} – Catalog`, robots: { index: false } };
}

export default async function OrderPage({ params }: { params: Params }) {
  const id = parseId((await params).id);
  if (id === null) notFound();
  const result = await getOrder(id);
  if (!result.ok) {
    if (result.status === 404) notFound();
    return (
      <UpstreamProblem problem={result.problem} requestId={result.requestId} service="order service" retryHref={`/orders/${id}`} />
    );
  }
  return (
    <>
      <OrderSummary order={result.data} />
      <p>
        <Link href="/">Continue shopping</Link>
      </p>
    </>
  );
}
