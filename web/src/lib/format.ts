const formatters = new Map<string, Intl.NumberFormat>();

/** Formats a decimal string such as "12.50" in the given ISO 4217 currency. */
export function formatPrice(amount: string, currency: string, locale = "en-IE"): string {
  const value = Number(amount);
  if (!Number.isFinite(value)) return `${amount} ${currency}`;
  const key = `${locale}|${currency}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    try {
      formatter = new Intl.NumberFormat(locale, { style: "currency", currency });
    } catch {
      return `${amount} ${currency}`;
    }
    formatters.set(key, formatter);
  }
  return formatter.format(value);
}
