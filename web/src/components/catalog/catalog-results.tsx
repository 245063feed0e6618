import Link from "next/link";

import { listItems } from "@/lib/bff";
import { formatCount } from "@/lib/format";

import { UpstreamProblem } from "@/components/status/upstream-problem";

import { ItemList } from "./item-list";
import { catalogHref, Pagination } from "./pagination";

/** One page of results, rendered into the first HTML response. */
export async function CatalogResults({ q, page }: { q: string; page: number }) {
  const result = await listItems({ page, q });
  if (!result.ok) {
    return (
      <UpstreamProblem
        problem={result.problem}
        requestId={result.requestId}
        service="catalog"
        retryHref={catalogHref(page, q)}
      />
    );
  }
  const { items, total, pages } = result.data;
  if (total === 0) {
    return (
      <section className="notice" aria-labelledby="results-empty">
        <h2 id="results-empty">No items found</h2>
        <p>{q ? `Nothing matches “${q}”. Try a shorter or different word.` : "The catalog is empty."}</p>
        {q && (
          <p>
            <Link href="/">Show the whole catalog</Link>
          </p>
        )}
      </section>
    );
  }
  if (items.length === 0) {
    return (
      <section className="notice" aria-labelledby="results-past-end">
        <h2 id="results-past-end">There is no page {page}</h2>
        <p>
          {formatCount(total, "item")} fill {formatCount(pages, "page")}.{" "}
          <Link href={catalogHref(1, q)}>Go to the first page</Link>
        </p>
      </section>
    );
  }
  return (
    <div className="results">
      <p className="summary" role="status">
        {formatCount(total, "item")}
        {q ? ` matching “${q}”` : ""}
      </p>
      <ItemList items={items} />
      <Pagination page={page} pages={pages} q={q} />
    </div>
  );
}
