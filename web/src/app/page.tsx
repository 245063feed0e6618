import { CatalogUnavailable } from "@/components/catalog/catalog-unavailable";
import { ItemList } from "@/components/catalog/item-list";
import { Pagination } from "@/components/catalog/pagination";
import { SearchForm } from "@/components/catalog/search-form";
import { listItems } from "@/lib/bff";

// Rendered per request: the BFF address is read at request time, never frozen at build.
export const dynamic = "force-dynamic";

type SearchParams = Record<string, string | string[] | undefined>;

function first(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? "";
}

function parsePage(value: string): number {
  const page = Number.parseInt(value, 10);
  return Number.isSafeInteger(page) && page > 0 ? Math.min(page, 10_000) : 1;
}

export default async function HomePage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const params = await searchParams;
  const q = first(params["q"]).trim().slice(0, 200);
  const page = parsePage(first(params["page"]));
  const result = await listItems({ page, q });

  return (
    <>
      <SearchForm q={q} />
      {!result.ok ? (
        <CatalogUnavailable problem={result.problem} requestId={result.requestId} />
      ) : result.data.items.length === 0 ? (
        <section className="notice" role="status">
          <h2>No items found</h2>
          <p>{q ? `Nothing matches “${q}”.` : "The catalog is empty."}</p>
        </section>
      ) : (
        <>
          <p className="summary" role="status">
            {result.data.total} item{result.data.total === 1 ? "" : "s"}
            {q ? ` matching “${q}”` : ""}
          </p>
          <ItemList items={result.data.items} />
          <Pagination page={result.data.page} pages={result.data.pages} q={q} />
        </>
      )}
    </>
  );
}
