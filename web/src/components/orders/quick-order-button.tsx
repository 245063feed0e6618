"use client";

import { useState } from "react";

import { formatPrice } from "@/lib/format";
import { describeProblem, isProblem, isRecord, REQUEST_ID_HEADER } from "@/lib/problem";

type Order = { id: string | number; status: string; total: string; currency: string };

type State =
  | { kind: "idle" }
  | { kind: "pending" }
  | { kind: "done"; order: Order }
  | { kind: "failed"; message: string; requestId: string | null };

function isOrder(value: unknown): value is Order {
  return (
    isRecord(value) &&
    (typeof value["id"] === "string" || typeof value["id"] === "number") &&
    typeof value["status"] === "string" &&
    typeof value["total"] === "string" &&
    typeof value["currency"] === "string"
  );
}

async function placeOrder(itemId: number): Promise<State> {
  let res: Response;
  try {
    res = await fetch("/api/orders", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ items: [{ item_id: itemId, quantity: 1 }], customer_email: "demo@example.com" }),
    });
  } catch {
    return { kind: "failed", message: "Network error: the order could not be sent.", requestId: null };
  }
  const requestId = res.headers.get(REQUEST_ID_HEADER);
  const body: unknown = await res.json().catch(() => undefined);
  if (res.status === 201 && isOrder(body)) return { kind: "done", order: body };
  const message = isProblem(body) ? describeProblem(body) : `The order failed (HTTP ${res.status}).`;
  return { kind: "failed", message, requestId };
}

export function QuickOrderButton({ itemId, itemName }: { itemId: number; itemName: string }) {
  const [state, setState] = useState<State>({ kind: "idle" });
  const pending = state.kind === "pending";

  async function onClick() {
    setState({ kind: "pending" });
    setState(await placeOrder(itemId));
  }

  return (
    <div className="quick-order">
      <button
        type="button"
        className="button"
        onClick={onClick}
        disabled={pending}
        aria-busy={pending}
        aria-label={`Order one ${itemName}`}
      >
        {pending ? "Ordering…" : "Order one"}
      </button>
      <div className="quick-order__result" aria-live="polite">
        {state.kind === "done" && (
          <p className="ok">
            Order {state.order.id} placed: {formatPrice(state.order.total, state.order.currency)}
          </p>
        )}
        {state.kind === "failed" && (
          <>
            <p className="error">{state.message}</p>
            {state.requestId && <p className="request-id">Request ID: {state.requestId}</p>}
          </>
        )}
      </div>
    </div>
  );
}
