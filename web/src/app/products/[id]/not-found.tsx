import Link from "next/link";

export default function ProductNotFound() {
  return (
    <section className="notice" aria-labelledby="product-missing-heading">
      <h1 id="product-missing-heading">This product does not exist</h1>
      <p>It may have been removed from the catalog, or the link may be mistyped.</p>
      <p>
        <Link href="/">Browse the catalog</Link>
      </p>
    </section>
  );
}
