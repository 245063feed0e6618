import type { FieldError } from "@/lib/problem";

/** The order form's fields; "" is the form as a whole. */
export type OrderField = "quantity" | "email" | "note";

export const NOTE_MAX = 500;
export const EMAIL_MAX = 254;

/** API field paths (problem `errors[].field`) and the form field each one belongs to. */
const FIELD_OF_ERROR = new Map<string, OrderField>([
  ["items", "quantity"],
  ["items.0", "quantity"],
  ["items.0.quantity", "quantity"],
  ["customer_email", "email"],
  ["note", "note"],
]);

const AT_LEAST = /greater than or equal to (\d+)|at least (\d+)/i;
const AT_MOST = /less than or equal to (\d+)|at most (\d+)/i;
const IN_STOCK = /^Only (\d+) of item \d+ in stock; (\d+) requested\.?$/;
const TOO_LONG = /at most (\d+) character/i;
const MISSING = /field required|missing/i;
const UNKNOWN_ITEM = /^Item \d+ does not exist\.?$/;

/**
 * One API field error in words for the person filling the form. The APIs' messages come from
 * their validation libraries ("Input should be greater than or equal to 1"); only the facts are
 * taken from them (a bound, a stock count), never the wording.
 */
export function orderFieldMessage(error: FieldError, maxQuantity: number): { field: OrderField | ""; message: string } {
  const field = FIELD_OF_ERROR.get(error.field) ?? "";
  const text = error.message;
  switch (field) {
    case "quantity": {
      const stock = IN_STOCK.exec(text);
      if (stock) {
        const [, left = "0", asked = "0"] = stock;
        return {
          field,
          message:
            left === "0"
              ? "This item is out of stock."
              : `Only ${left} left in stock, and you asked for ${asked}. Choose ${left} or fewer.`,
        };
      }
      const most = AT_MOST.exec(text);
      if (most && !/list|item/i.test(text)) {
        return { field, message: `You can order at most ${most[1] ?? most[2]} at a time.` };
      }
      if (AT_LEAST.test(text) || /at least 1 item/i.test(text)) {
        return { field, message: "Enter a quantity of at least 1." };
      }
      return { field, message: `Enter a whole number from 1 to ${Math.max(1, maxQuantity)}.` };
    }
    case "email": {
      if (TOO_LONG.test(text)) {
        return { field, message: `An email address can be at most ${EMAIL_MAX} characters long.` };
      }
      if (MISSING.test(text)) return { field, message: "Enter your email address." };
      return { field, message: "Enter an email address in the form name@example.com." };
    }
    case "note":
      return { field, message: `Keep the note to ${NOTE_MAX} characters or fewer.` };
    default:
      if (UNKNOWN_ITEM.test(text)) {
        return { field, message: "This product is no longer in the catalog, so it cannot be ordered." };
      }
      if (/currenc/i.test(text)) {
        return { field, message: "These items are priced in different currencies and cannot be ordered together." };
      }
      return { field, message: "Part of the order could not be accepted. Please check it and try again." };
  }
}

/** The problem's field errors in people's words, grouped by form field ("" for the form), without repeats. */
export function orderFieldErrors(errors: readonly FieldError[], maxQuantity: number): Map<string, string[]> {
  const grouped = new Map<string, string[]>();
  for (const error of errors) {
    const { field, message } = orderFieldMessage(error, maxQuantity);
    const messages = grouped.get(field) ?? [];
    if (!messages.includes(message)) messages.push(message);
    grouped.set(field, messages);
  }
  return grouped;
}
