import type { Metadata } from "next";
import { notFound } from "next/navigation";

import { ProductDetails } from "@/components/product/product-details";
import { UpstreamProblem } from "@/components/status/upstream-problem";
import { getItem } from "@/lib/bff";
import { parseId } from "@/lib/format";

export const dynamic = "force-dynamic";

type Params = Promise<{ id: string }>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const id = parseId((await params).id);
  const result = id === null ? null : await getItem(id);
  return { title: result?.ok ? `${result.data.name} – Catalog` : "Product – Catalog" };
}

export default async function ProductPage({ params }: { params: Params }) {
  const id = parseId((await params).id);
  if (id === null) notFound();
  const result = await getItem(id);
  if (!result.ok) {
    if (result.status === 404) notFound();
    return (
      <UpstreamProblem problem={result.problem} requestId={result.requestId} service="catalog" retryHref={`/products/${id}`} />
    );
  }
  return <ProductDetails item={result.data} />;
}
