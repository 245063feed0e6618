import { CatalogResults } from "@/components/catalog/catalog-results";
import { SearchForm } from "@/components/catalog/search-form";

// Rendered per request: the BFF address is read at request time, never frozen at build.
// The results are awaited, not streamed behind a Suspense skeleton: the first paint then
// shows the catalog itself (React holds a streamed boundary's reveal for 300 ms after the
// first paint), and the product list is in the HTML before any script runs.
export const dynamic = "force-dynamic";

type SearchParams = Record<string, string | string[] | undefined>;

const MAX_PAGE = 10_000;

function first(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? "";
}

function parsePage(value: string): number {
  if (!/^[0-9]{1,6}$/.test(value)) return 1;
  const page = Number(value);
  return page > 0 ? Math.min(page, MAX_PAGE) : 1;
}

export async function generateMetadata({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const q = first((await searchParams)["q"]).trim();
  return { title: q ? `“${q.slice(0, 60)}” – Catalog` : "Catalog" };
}

export default async function HomePage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const params = await searchParams;
  const q = first(params["q"]).trim().slice(0, 200);
  const page = parsePage(first(params["page"]));

  return (
    <>
      <h1 className="visually-hidden">Catalog</h1>
      <SearchForm q={q} />
      <CatalogResults q={q} page={page} />
    </>
  );
}
