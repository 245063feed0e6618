/** Formatting for display. Fixed locale and time zone, so server and browser render the same text. */

export const LOCALE = "en-IE";
const TIME_ZONE = "UTC";

const priceFormatters = new Map<string, Intl.NumberFormat>();

/** Formats a decimal string such as "12.50" in the given ISO 4217 currency. */
export function formatPrice(amount: string, currency: string, locale = LOCALE): string {
  const value = Number(amount);
  if (amount.trim() === "" || !Number.isFinite(value)) return `${amount} ${currency}`;
  const key = `${locale}|${currency}`;
  let formatter = priceFormatters.get(key);
  if (!formatter) {
    try {
      formatter = new Intl.NumberFormat(locale, { style: "currency", currency });
    } catch {
      return `${amount} ${currency}`;
    }
    priceFormatters.set(key, formatter);
  }
  return formatter.format(value);
}

const dateTimeFormatter = new Intl.DateTimeFormat(LOCALE, {
  dateStyle: "medium",
  timeStyle: "short",
  timeZone: TIME_ZONE,
});

/** "3 Mar 2026, 14:05 UTC" for an ISO 8601 timestamp; the input itself if it is not one. */
export function formatDateTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${dateTimeFormatter.format(date)} ${TIME_ZONE}`;
}

/** "1 item", "3 items", "0 items". */
export function formatCount(count: number, singular: string, plural = `${singular}s`): string {
  return `${count.toLocaleString(LOCALE)} ${count === 1 ? singular : plural}`;
}

/** Stock in words: "Out of stock", "Only 3 left", "In stock". */
export function formatStock(stock: number): string {
  if (stock <= 0) return "Out of stock";
  if (stock <= 5) return `Only ${stock} left`;
  return "In stock";
}

/** A positive integer id from a URL segment ("42"), or null for anything else ("0", "4x", "1e3"). */
export function parseId(segment: string): number | null {
  if (!/^[1-9][0-9]{0,14}$/.test(segment)) return null;
  return Number(segment);
}
