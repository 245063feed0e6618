import Link from "next/link";

/** What kind of thing is missing: it decides the not-found page's words. */
export type MissingKind = "products" | "orders" | "page";

const WORDS: Record<MissingKind, [heading: string, text: string]> = {
  products: ["This product does not exist", "It may have been removed from the catalog, or the link may be mistyped."],
  orders: [
    "We can't find that order",
    "Check the order number on your confirmation page. Orders placed before a service restart are not kept.",
  ],
  page: ["Page not found", "There is nothing at this address. It may have moved, or the link may be mistyped."],
};

/** The not-found notice for a missing product, order or page. */
export function NotFoundWords({ kind }: { kind: MissingKind }) {
  const [heading, text] = WORDS[kind];
  return (
    <section className="notice" aria-labelledby="not-found-heading">
      <h1 id="not-found-heading">{heading}</h1>
      <p>{text}</p>
      <p>
        <Link href="/">Browse the catalog</Link>
      </p>
    </section>
  );
}
