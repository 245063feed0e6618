"use client";

import { useRouter } from "next/navigation";
import { useId, useRef, useState, type FormEvent } from "react";

import { apiRequest } from "@/lib/api-client";
import { describeProblem, type Problem } from "@/lib/problem";

import { EMAIL_MAX, NOTE_MAX, orderFieldErrors, type OrderField as Field } from "./field-messages";

const FIELDS: readonly Field[] = ["quantity", "email", "note"];

type Failure = { problem: Problem; requestId: string; byField: Map<string, string[]> };

export function OrderForm({ itemId, itemName, maxQuantity }: { itemId: number; itemName: string; maxQuantity: number }) {
  const router = useRouter();
  const id = useId();
  const [pending, setPending] = useState(false);
  const [placed, setPlaced] = useState<number | null>(null);
  const [failure, setFailure] = useState<Failure | null>(null);
  const inputs = useRef<Partial<Record<Field, HTMLInputElement | HTMLTextAreaElement | null>>>({});
  const alertRef = useRef<HTMLDivElement | null>(null);

  const errorsFor = (field: Field): string[] => failure?.byField.get(field) ?? [];
  const formErrors = failure?.byField.get("") ?? [];
  const fieldId = (field: Field) => `${id}-${field}`;
  const errorId = (field: Field) => `${id}-${field}-error`;

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (pending) return;
    const data = new FormData(event.currentTarget);
    const quantity = Number(data.get("quantity"));
    const note = String(data.get("note") ?? "").trim();
    setPending(true);
    setFailure(null);
    const result = await apiRequest("", "post", "/api/orders", {
      body: {
        items: [{ item_id: itemId, quantity: Number.isInteger(quantity) ? quantity : 0 }],
        customer_email: String(data.get("email") ?? "").trim(),
        note: note || null,
      },
      timeoutMs: 15_000,
    });
    if (result.ok) {
      setPlaced(result.data.id);
      router.push(`/orders/${result.data.id}`);
      return;
    }
    const byField = orderFieldErrors(result.problem.errors ?? [], maxQuantity);
    setFailure({ problem: result.problem, requestId: result.requestId, byField });
    setPending(false);
    const firstInvalid = FIELDS.find((field) => byField.has(field));
    requestAnimationFrame(() => {
      if (firstInvalid) inputs.current[firstInvalid]?.focus();
      else alertRef.current?.focus();
    });
  }

  const words = failure ? describeProblem(failure.problem, "order service") : null;
  // field errors that belong to no field of this form (an item gone from the catalog): nothing is highlighted
  const unplaced = failure !== null && formErrors.length > 0 && !FIELDS.some((field) => failure.byField.has(field));
  const describedBy = (field: Field, hint?: string) =>
    [hint, errorsFor(field).length ? errorId(field) : undefined].filter(Boolean).join(" ") || undefined;

  return (
    <form className="order-form" onSubmit={onSubmit} noValidate aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Order {itemName}</h2>

      <div className="field">
        <label htmlFor={fieldId("quantity")}>Quantity</label>
        <input
          ref={(el) => {
            inputs.current.quantity = el;
          }}
          id={fieldId("quantity")}
          name="quantity"
          type="number"
          inputMode="numeric"
          min={1}
          max={Math.max(1, maxQuantity)}
          step={1}
          defaultValue={1}
          required
          aria-invalid={errorsFor("quantity").length > 0}
          aria-describedby={describedBy("quantity")}
        />
        <FieldMessages id={errorId("quantity")} messages={errorsFor("quantity")} />
      </div>

      <div className="field">
        <label htmlFor={fieldId("email")}>Email</label>
        <input
          ref={(el) => {
            inputs.current.email = el;
          }}
          id={fieldId("email")}
          name="email"
          type="email"
          autoComplete="email"
          maxLength={EMAIL_MAX}
          required
          aria-invalid={errorsFor("email").length > 0}
          aria-describedby={describedBy("email")}
        />
        <FieldMessages id={errorId("email")} messages={errorsFor("email")} />
      </div>

      <div className="field">
        <label htmlFor={fieldId("note")}>
          Note <span className="field__optional">(optional)</span>
        </label>
        <textarea
          ref={(el) => {
            inputs.current.note = el;
          }}
          id={fieldId("note")}
          name="note"
          rows={3}
          maxLength={NOTE_MAX}
          aria-invalid={errorsFor("note").length > 0}
          aria-describedby={describedBy("note", `${id}-note-hint`)}
        />
        <p id={`${id}-note-hint`} className="field__hint">
          Up to {NOTE_MAX} characters, e.g. delivery instructions.
        </p>
        <FieldMessages id={errorId("note")} messages={errorsFor("note")} />
      </div>

      <div className="order-form__status" ref={alertRef} tabIndex={-1} aria-live="polite">
        {placed !== null && <p className="ok">Order {placed} placed. Opening your order…</p>}
        {failure && words && (
          <div className="form-error" role="alert">
            <p className="form-error__heading">{unplaced ? "The order could not be placed" : words.heading}</p>
            {(failure.byField.size === 0 || formErrors.length > 0) && !unplaced ? <p>{words.message}</p> : null}
            {formErrors.map((message) => (
              <p key={message}>{message}</p>
            ))}
            <p className="request-id">Reference: {failure.requestId}</p>
          </div>
        )}
      </div>

      <button type="submit" className="button" disabled={pending} aria-disabled={pending}>
        {pending ? "Placing the order…" : "Place order"}
      </button>
    </form>
  );
}

function FieldMessages({ id, messages }: { id: string; messages: string[] }) {
  if (messages.length === 0) return null;
  return (
    <p id={id} className="field__error">
      {messages.join(" ")}
    </p>
  );
}
