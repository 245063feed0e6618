/** The last few things that happened on the page, sent with each error report. */

export type BreadcrumbType = "navigation" | "click" | "fetch";

export type Breadcrumb = {
  t: number;
  type: BreadcrumbType;
  data: Record<string, string | number>;
};

export const MAX_BREADCRUMBS = 30;

/** Append `item` to `ring`, dropping the oldest entry once it holds more than `limit`. */
export function keepLast<T>(ring: T[], item: T, limit: number): void {
  if (ring.push(item) > limit) ring.shift();
}

/** The URL's path alone: query values may hold personal data. */
export function pathOnly(url: string, base = "http://localhost"): string {
  try {
    return new URL(url, base).pathname;
  } catch {
    return "";
  }
}

/** A CSS-like selector for an element (tag, id, two classes, up to 4 levels), never its text. */
export function elementSelector(target: EventTarget | null): string {
  const parts: string[] = [];
  for (
    let el = target as Element | null;
    el?.classList && parts.length < 4;
    el = el.parentElement
  ) {
    const classes = [...el.classList].slice(0, 2).map((name) => `.${name}`);
    parts.unshift(el.tagName.toLowerCase() + (el.id ? `#${el.id}` : "") + classes.join(""));
  }
  return parts.join(" > ");
}
