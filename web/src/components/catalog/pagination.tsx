import Link from "next/link";

/** The catalog URL for a page of a search. */
export function catalogHref(page: number, q: string): string {
  const params = new URLSearchParams();
  if (q) params.set("q", q);
  if (page > 1) params.set("page", String(page));
  const query = params.toString();
  return query ? `/?${query}` : "/";
}

export function Pagination({ page, pages, q }: { page: number; pages: number; q: string }) {
  if (pages <= 1) return <div className="pagination" aria-hidden="true" />;
  return (
    <nav className="pagination" aria-label="Pages">
      {page > 1 ? (
        <Link href={catalogHref(page - 1, q)} rel="prev">
          ← Previous<span className="visually-hidden"> page</span>
        </Link>
      ) : (
        <span className="pagination__off" aria-hidden="true">
          ← Previous
        </span>
      )}
      <span aria-current="page">
        Page {page} of {pages}
      </span>
      {page < pages ? (
        <Link href={catalogHref(page + 1, q)} rel="next">
          Next<span className="visually-hidden"> page</span> →
        </Link>
      ) : (
        <span className="pagination__off" aria-hidden="true">
          Next →
        </span>
      )}
    </nav>
  );
}
