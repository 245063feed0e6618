import type { CatalogItem } from "@/lib/bff";
import { formatPrice, formatStock } from "@/lib/format";

import { OrderForm } from "@/components/orders/order-form";

const MAX_QUANTITY = 100;

export function ProductDetails({ item }: { item: CatalogItem }) {
  const available = item.stock > 0;
  return (
    <article className="product" aria-labelledby="product-name">
      <div className="product__main">
        <h1 id="product-name">{item.name}</h1>
        <p className="product__price">{formatPrice(item.price, item.currency)}</p>
        <p className={available ? "product__stock" : "product__stock product__stock--out"}>{formatStock(item.stock)}</p>
        <p className="product__description">{item.description}</p>
      </div>
      <div className="product__order">
        {available ? (
          <OrderForm itemId={item.id} itemName={item.name} maxQuantity={Math.min(item.stock, MAX_QUANTITY)} />
        ) : (
          <p className="notice">This item is out of stock and cannot be ordered right now.</p>
        )}
      </div>
    </article>
  );
}
