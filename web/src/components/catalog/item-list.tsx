import Link from "next/link";

import type { CatalogItem } from "@/lib/bff";
import { formatPrice, formatStock } from "@/lib/format";

export function ItemList({ items }: { items: CatalogItem[] }) {
  return (
    <ul className="items">
      {items.map((item) => (
        <li key={item.id} className="item">
          <h2 className="item__name">
            {/* Not prefetched: a dozen product prefetches would compete with hydration. */}
            <Link href={`/products/${item.id}`} className="item__link" prefetch={false}>
              {item.name}
            </Link>
          </h2>
          <p className="item__description">{item.description}</p>
          <dl className="item__facts">
            <div>
              <dt>Price</dt>
              <dd>{formatPrice(item.price, item.currency)}</dd>
            </div>
            <div>
              <dt>Availability</dt>
              <dd>{formatStock(item.stock)}</dd>
            </div>
          </dl>
        </li>
      ))}
    </ul>
  );
}
