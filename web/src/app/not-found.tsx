import Link from "next/link";

export const metadata = { title: "Page not found – Catalog" };

export default function NotFound() {
  return (
    <section className="notice" aria-labelledby="not-found-heading">
      <h1 id="not-found-heading">Page not found</h1>
      <p>There is nothing at this address. It may have moved, or the link may be mistyped.</p>
      <p>
        <Link href="/">Browse the catalog</Link>
      </p>
    </section>
  );
}
