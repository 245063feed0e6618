import Link from "next/link";

function href(page: number, q: string): string {
  const params = new URLSearchParams();
  if (q) params.set("q", q);
  if (page > 1) params.set("page", String(page));
  const query = params.toString();
  return query ? `/?${query}` : "/";
}

export function Pagination({ page, pages, q }: { page: number; pages: number; q: string }) {
  if (pages <= 1) return null;
  return (
    <nav className="pagination" aria-label="Pagination">
      {page > 1 ? (
        <Link href={href(page - 1, q)} prefetch={false} rel="prev">
          ← Previous
        </Link>
      ) : (
        <span aria-hidden="true">← Previous</span>
      )}
      <span aria-current="page">
        Page {page} of {pages}
      </span>
      {page < pages ? (
        <Link href={href(page + 1, q)} prefetch={false} rel="next">
          Next →
        </Link>
      ) : (
        <span aria-hidden="true">Next →</span>
      )}
    </nav>
  );
}
