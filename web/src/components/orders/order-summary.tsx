import type { Order } from "@/lib/bff";
import { formatDateTime, formatPrice } from "@/lib/format";

export function OrderSummary({ order }: { order: Order }) {
  return (
    <article className="order" aria-labelledby="order-heading">
      <h1 id="order-heading">{`Order ${order.id} is ${order.status}`}</h1>
      <p>Thank you. This page is your confirmation: no email is sent, so keep the order number for your records.</p>
      <table className="order__lines">
        <caption className="visually-hidden">Items in order {order.id}</caption>
        <thead>
          <tr>
            <th scope="col">Item</th>
            <th scope="col" className="num">
              Quantity
            </th>
            <th scope="col" className="num">
              Unit price
            </th>
          </tr>
        </thead>
        <tbody>
          {order.items.map((line) => (
            <tr key={line.item_id}>
              <th scope="row">{line.name}</th>
              <td className="num">{line.quantity}</td>
              <td className="num">{formatPrice(line.unit_price, order.currency)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={2}>
              Total
            </th>
            <td className="num" data-testid="order-total">
              {formatPrice(order.total, order.currency)}
            </td>
          </tr>
        </tfoot>
      </table>
      <dl className="order__facts">
        <div>
          <dt>Placed</dt>
          <dd>
            <time dateTime={order.created_at}>{formatDateTime(order.created_at)}</time>
          </dd>
        </div>
        <div>
          <dt>Email</dt>
          <dd>{order.customer_email}</dd>
        </div>
        {order.note && (
          <div>
            <dt>Note</dt>
            <dd>{order.note}</dd>
          </div>
        )}
      </dl>
    </article>
  );
}
