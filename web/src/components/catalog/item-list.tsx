import type { CatalogItem } from "@/lib/bff";
import { formatPrice } from "@/lib/format";

import { QuickOrderButton } from "@/components/orders/quick-order-button";

export function ItemList({ items }: { items: CatalogItem[] }) {
  return (
    <ul className="items">
      {items.map((item) => (
        <li key={item.id} className="item">
          <h2 className="item__name">{item.name}</h2>
          {item.description && <p className="item__description">{item.description}</p>}
          <dl className="item__facts">
            <div>
              <dt>Price</dt>
              <dd>{formatPrice(item.price, item.currency)}</dd>
            </div>
            <div>
              <dt>Stock</dt>
              <dd>{item.stock > 0 ? item.stock : "Out of stock"}</dd>
            </div>
          </dl>
          <QuickOrderButton itemId={item.id} itemName={item.name} />
        </li>
      ))}
    </ul>
  );
}
