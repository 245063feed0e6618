import { headers } from "next/headers";

import { NotFoundWords } from "@/components/status/not-found-words";
import { MISSING_HEADER } from "@/proxy";

export const metadata = { title: "Page not found – Catalog" };

export default async function NotFound() {
  const missing = (await headers()).get(MISSING_HEADER);
  return <NotFoundWords kind={missing === "products" || missing === "orders" ? missing : "page"} />;
}
