/** Route patterns for reports: `/products/7` with params `{id: "7"}` is `/products/[id]`. */

type Params = Record<string, string | string[] | undefined>;

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The App Router pattern of `pathname`, found by replacing the segments that hold `params`. */
export function routePattern(pathname: string, params: Params | null): string {
  const names = new Map<string, string>();
  for (const [key, value] of Object.entries(params ?? {})) {
    if (Array.isArray(value)) for (const part of value) names.set(decode(part), `[...${key}]`);
    else if (value !== undefined) names.set(decode(value), `[${key}]`);
  }
  const out: string[] = [];
  for (const segment of pathname.split("/")) {
    const name = segment ? names.get(decode(segment)) : undefined;
    if (name?.startsWith("[...") && out.at(-1) === name) continue;
    out.push(name ?? segment);
  }
  return out.join("/");
}
