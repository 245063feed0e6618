import Link from "next/link";

export default function OrderNotFound() {
  return (
    <section className="notice" aria-labelledby="order-missing-heading">
      <h1 id="order-missing-heading">We can&apos;t find that order</h1>
      <p>Check the order number in your confirmation. Orders placed before a service restart are not kept.</p>
      <p>
        <Link href="/">Browse the catalog</Link>
      </p>
    </section>
  );
}
