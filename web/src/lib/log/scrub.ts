/**
 * Personal data and secrets in log text: the rules of logship (`logship.scrub` and
 * `logship.redact`), so a web record is cleaned exactly like a BFF, Django or FastAPI record.
 *
 * `cleanText` is what every string of a record goes through: e-mail addresses -> `[email]`,
 * Luhn-valid 13-19 digit numbers -> `[card]`, JWTs -> `[jwt]`, `Bearer <credential>` ->
 * `Bearer [REDACTED]`, query values named like a secret or personal data (and percent-encoded
 * values holding one of those shapes), `name=value` secrets in free text, header lines,
 * `password: ...` assignments and URL passwords. Every function is pure, linear-time and never
 * throws on hostile input.
 */

export const REDACTED = "[REDACTED]";
export const EMAIL = "[email]";
export const CARD = "[card]";
export const JWT = "[jwt]";

/** Substrings that make a normalised name (lower case, `-` and spaces read as `_`) name a secret. */
export const SENSITIVE_NAME_PARTS = [
  "password", "passwd", "pwd", "secret", "token", "auth", "cookie", "session", "csrf",
  "xsrf", "api_key", "apikey", "credential", "private_key", "signature", "jwt",
] as const; // prettier-ignore
const PERSONAL_NAMES = new Set([
  "email", "e_mail", "mail", "ssn", "card", "card_number", "cardnumber", "cc", "ccnum",
  "cvv", "cvc", "iban", "otp", "pin", "pw", "pass", "passcode",
]); // prettier-ignore
const SENSITIVE_PARAMS = new Set([...PERSONAL_NAMES, "code", "key", "sig", "state"]);

/** Data keys (normalised) whose values are redacted: logship's `DEFAULT_SENSITIVE_KEYS`. */
export const SENSITIVE_KEYS = new Set([
  "authorization", "proxy_authorization", "cookie", "set_cookie", "x_api_key",
  "api_key", "apikey", "password", "passwd", "secret", "token", "access_token",
  "refresh_token", "id_token", "client_secret", "session_id", "sessionid",
]); // prettier-ignore
/** Substrings that make a data key sensitive: logship's `DEFAULT_SENSITIVE_KEY_PARTS`. */
export const SENSITIVE_KEY_PARTS = [
  "password", "passwd", "secret", "token", "authorization", "cookie", "api_key", "apikey",
  "private_key", "credential", "signature",
] as const; // prettier-ignore
/** Query parameter names redacted by `redactQuery` (logship's `SENSITIVE_QUERY_PARAMS`). */
const REDACT_QUERY_PARAMS = new Set([
  "token", "access_token", "id_token", "refresh_token", "api_key", "apikey", "key",
  "password", "secret", "signature", "sig", "code", "client_secret", "auth",
]); // prettier-ignore
const SENSITIVE_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"]);

// Python's `\w` on str is Unicode-aware; so are these.
const W = String.raw`[\p{L}\p{N}_]`;
const EMAIL_RE = new RegExp(
  String.raw`(?<![\p{L}\p{N}_.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.){1,8}[A-Za-z]{2,24}(?![\p{L}\p{N}_-])`,
  "gu",
);
const CARD_RE = new RegExp(String.raw`(?<![\p{L}\p{N}_-])[0-9](?:[ -]?[0-9]){12,18}(?![\p{L}\p{N}_-])`, "gu");
const DIGITS13 = /[0-9][0-9 -]{11,}[0-9]/;
const JWT_RE = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const BEARER_RE = /\b(bearer)(\s+)(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{6,}/gi;
const QUERY_PARAM = new RegExp(String.raw`([?&;#])((?:${W}|[.\-\[\]%+]){1,128})=([^&;#\s"'<>]*)`, "gu");
const KEY_VALUE = new RegExp(
  String.raw`(?<!(?:${W}|[.%\[\]-]))([A-Za-z_](?:${W}|[.-]){0,63})=(?!["']?\[REDACTED\])("[^"\r\n]{1,4096}"|'[^'\r\n]{1,4096}'|[^&;#\s"'<>,]+)`,
  "gu",
);
const ARRAY_SUFFIX = /\[[^\]]{0,64}\]$/;

// logship.redact's free-text rules.
const TEXT_TRIGGER = /authoriz|cookie|api.?key|bearer|passw|secret|token|:\/\/[^/\s@]{1,256}@|[?&;#][^=\s]{1,128}=/i;
const TEXT_URL_PARAM = new RegExp(String.raw`([?&;#])((?:%[0-9A-Fa-f]{2}|${W}|[.\-\[\]]){1,128})=([^&;#\s"'<>]*)`, "gu");
const TEXT_ASSIGNMENT = new RegExp(
  String.raw`(?<!(?:${W}|[.%-]))((?:${W}|[.-]){1,64})(["']?\s{0,8}[=:]\s{0,8})(?!\[REDACTED\])("[^"\r\n]{0,4096}"|'[^'\r\n]{0,4096}'|[^\s,;&"'<>)}\]]+)`,
  "gu",
);
const TEXT_HEADER = /\b(proxy-authorization|authorization|x-api-key|set-cookie|cookie)(["']?\s{0,8}[:=]\s{0,8}["']?)([^"'\r\n]*)/gi;
const TEXT_BEARER = /\b(bearer)(\s+)([A-Za-z0-9._~+/=-]{8,})/gi;
const TEXT_USERINFO = /([A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/)([^\s/@?#:]{0,256}):([^\s/@?#]{1,256})@/g;
const TEXT_WORDS = ["authoriz", "cookie", "api-key", "api_key", "apikey", "bearer", "passw", "secret", "token"];
const TEXT_KEY_PARTS = ["password", "passwd", "secret", "token", "api_key", "apikey", "client_secret"];
const SCHEME = /^\s*([A-Za-z][A-Za-z0-9_.-]{0,31})\s+\S/;

const MAX_DECODES = 2;
const CACHE_MAX = 4096;
const nameCache = new Map<string, readonly [boolean, boolean, boolean]>();
const utf8 = new TextDecoder("utf-8", { fatal: false });
const encoder = new TextEncoder();

/** Python's `unquote_plus(value, errors="replace")`: `+` is a space, bad escapes stay as text. */
export function unquotePlus(value: string): string {
  const text = value.replace(/\+/g, " ");
  if (!text.includes("%")) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; ) {
    const hex = text[i] === "%" ? text.slice(i + 1, i + 3) : "";
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 3;
      continue;
    }
    const point = text.codePointAt(i) ?? 0;
    const char = String.fromCodePoint(point);
    for (const byte of encoder.encode(char)) bytes.push(byte);
    i += char.length;
  }
  return utf8.decode(new Uint8Array(bytes));
}

/** Python's `quote_plus(value, safe="[]/:")`. */
function quotePlus(value: string): string {
  let out = "";
  for (const byte of encoder.encode(value)) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.~\-[\]/:]/.test(char)) out += char;
    else if (byte === 0x20) out += "+";
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function normalName(name: string): string {
  let text = name;
  if (text.includes("%") || text.includes("+")) text = unquotePlus(text);
  return text.trim().toLowerCase().replace(ARRAY_SUFFIX, "").replace(/-/g, "_").replace(/ /g, "_");
}

function nameKinds(name: string): readonly [boolean, boolean, boolean] {
  let kinds = nameCache.get(name);
  if (kinds === undefined) {
    const normal = normalName(name);
    const byPart = SENSITIVE_NAME_PARTS.some((part) => normal.includes(part));
    kinds = [byPart, byPart || SENSITIVE_PARAMS.has(normal), byPart || PERSONAL_NAMES.has(normal)] as const;
    if (nameCache.size >= CACHE_MAX) nameCache.clear();
    nameCache.set(name, kinds);
  }
  return kinds;
}

/** Whether a query parameter's value is redacted (name percent-decoded, `[...]` ignored). */
export function isSensitiveParam(name: string): boolean {
  return nameKinds(name)[1];
}

/** Whether a string of 13-19 ASCII digits passes the Luhn checksum. */
export function luhnValid(digits: string): boolean {
  if (!/^[0-9]{13,19}$/.test(digits)) return false;
  let total = 0;
  for (let i = 0; i < digits.length; i++) {
    let value = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      value *= 2;
      if (value > 9) value -= 9;
    }
    total += value;
  }
  return total % 10 === 0;
}

/** The span of a Luhn-valid run of whole digit groups inside a card-shaped match. */
function cardIn(text: string): [number, number] | null {
  const groups = [...text.matchAll(/[0-9]+/g)].map((m) => [m.index, m.index + m[0].length] as const);
  const sizes = groups.map(([start, end]) => end - start);
  for (let first = 0; first < groups.length; first++) {
    let total = sizes.slice(first).reduce((a, b) => a + b, 0);
    for (let last = groups.length - 1; last >= first; last--) {
      if (total >= 13 && total <= 19) {
        const start = groups[first]![0];
        const end = groups[last]![1];
        if (luhnValid(text.slice(start, end).replace(/[ -]/g, ""))) return [start, end];
      }
      total -= sizes[last]!;
      if (total < 13) break;
    }
  }
  return null;
}

function triggered(text: string): boolean {
  return (
    text.includes("@") ||
    text.includes("=") ||
    text.includes("eyJ") ||
    text.includes("earer") ||
    text.includes("EARER") ||
    (text.length >= 13 && DIGITS13.test(text))
  );
}

function apply(input: string, depth: number, hits: { count: number }): string {
  let text = input;
  const count = (match: string, replacement: string): string => {
    hits.count++;
    return replacement;
  };
  if (text.includes("@")) text = text.replace(EMAIL_RE, (m) => count(m, EMAIL));
  if (text.includes("eyJ")) text = text.replace(JWT_RE, (m) => count(m, JWT));
  if (DIGITS13.test(text)) {
    text = text.replace(CARD_RE, (match) => {
      const span = cardIn(match);
      if (!span) return match;
      hits.count++;
      return match.slice(0, span[0]) + CARD + match.slice(span[1]);
    });
  }
  if (text.includes("=")) {
    text = text.replace(QUERY_PARAM, (match, sep: string, name: string, value: string) => {
      if (!value || value === REDACTED) return match;
      if (nameKinds(name)[1]) {
        hits.count++;
        return `${sep}${name}=${REDACTED}`;
      }
      if ((value.includes("%") || value.includes("+")) && depth < MAX_DECODES) {
        const decoded = unquotePlus(value);
        if (decoded !== value && triggered(decoded)) {
          const local = { count: 0 };
          const out = apply(decoded, depth + 1, local);
          if (local.count) {
            hits.count += local.count;
            return `${sep}${name}=${quotePlus(out)}`;
          }
        }
      }
      return match;
    });
    text = text.replace(KEY_VALUE, (match, name: string, value: string) => {
      if (!nameKinds(name)[2]) return match;
      hits.count++;
      const quote = value[0] === '"' || value[0] === "'" ? value[0] : "";
      return `${name}=${quote}${REDACTED}${quote}`;
    });
  }
  if (text.includes("earer") || text.includes("EARER")) {
    text = text.replace(BEARER_RE, (_m, word: string, space: string) => {
      hits.count++;
      return `${word}${space}${REDACTED}`;
    });
  }
  return text;
}

/** `text` with the personal-data rules applied (logship's `scrub_text`). */
export function scrubText(text: string): string {
  if (!text || !triggered(text)) return text;
  return apply(text, 0, { count: 0 });
}

function paramName(raw: string): string {
  return unquotePlus(raw).trim().toLowerCase().replace(ARRAY_SUFFIX, "").replace(/-/g, "_");
}

/** Secrets in free text: URL parameters, assignments, header lines, bearer tokens, URL passwords. */
export function redactText(text: string): string {
  if (!text) return text;
  if (!text.includes("=")) {
    if (!text.includes(":") && !text.includes("earer") && !text.includes("EARER")) return text;
    const lowered = text.toLowerCase();
    if (!TEXT_WORDS.some((w) => lowered.includes(w)) && !(text.includes("@") && text.includes("://"))) return text;
  }
  if (!TEXT_TRIGGER.test(text)) return text;
  let out = text.replace(TEXT_HEADER, (match, name: string, sep: string, value: string) =>
    value.trim() ? `${name}${sep}${REDACTED}` : match,
  );
  out = out.replace(TEXT_BEARER, (_m, word: string, space: string) => `${word}${space}${REDACTED}`);
  out = out.replace(TEXT_USERINFO, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`);
  out = out.replace(TEXT_URL_PARAM, (match, sep: string, name: string) =>
    REDACT_QUERY_PARAMS.has(paramName(name)) ? `${sep}${name}=${REDACTED}` : match,
  );
  return out.replace(TEXT_ASSIGNMENT, (match, name: string, sep: string, value: string) => {
    const normal = name.toLowerCase().replace(/-/g, "_");
    if (!TEXT_KEY_PARTS.some((part) => normal.includes(part))) return match;
    const quote = value[0] === '"' || value[0] === "'" ? value[0] : "";
    return `${name}${sep}${quote}${REDACTED}${quote}`;
  });
}

/** What every string of a record goes through: `scrubText`, then `redactText`. */
export function cleanText(text: string): string {
  try {
    return redactText(scrubText(text));
  } catch {
    return REDACTED; // a rule failing on hostile input must not let the text through
  }
}

/** A query string with sensitive values redacted, by parameter name and by shape. */
export function scrubQuery(query: string): string {
  if (!query) return query;
  if (query.startsWith("?")) return scrubText(query);
  return scrubText(`?${query}`).slice(1);
}

/** A URL path with e-mail addresses, card numbers, JWTs (also percent-encoded) and secrets replaced. */
export function scrubPath(path: string): string {
  if (!path) return path;
  if (path.includes("%")) {
    const decoded = unquotePlus(path.replace(/\+/g, "%2B"));
    if (decoded !== path && scrubText(decoded) !== decoded) return scrubText(decoded);
  }
  return scrubText(path);
}

/**
 * A query string for an access record: parameter names kept (cleaned), every value replaced.
 * Stricter than logship's access records, which keep values no rule matches.
 */
export function queryShape(query: string): string {
  const raw = query.startsWith("?") ? query.slice(1) : query;
  if (!raw) return "";
  return raw
    .split(/([&;])/)
    .map((piece) => {
      if (piece === "&" || piece === ";" || !piece) return piece;
      const eq = piece.indexOf("=");
      const name = cleanText(scrubPath(eq < 0 ? piece : piece.slice(0, eq))).slice(0, 128);
      return eq < 0 || eq === piece.length - 1 ? name + (eq < 0 ? "" : "=") : `${name}=${REDACTED}`;
    })
    .join("");
}

const keyCache = new Map<string, boolean>();

/** Whether a data key names a secret (logship's `is_sensitive_key` with the default rules). */
export function isSensitiveKey(key: string): boolean {
  let hit = keyCache.get(key);
  if (hit === undefined) {
    const name = key.trim().toLowerCase().replace(/-/g, "_").replace(/ /g, "_");
    hit = SENSITIVE_KEYS.has(name) || SENSITIVE_KEY_PARTS.some((part) => name.includes(part));
    if (keyCache.size >= CACHE_MAX) keyCache.clear();
    keyCache.set(key, hit);
  }
  return hit;
}

function redactCookiePair(pair: string): string {
  const eq = pair.indexOf("=");
  const name = eq < 0 ? "" : pair.slice(0, eq).trim();
  return name ? `${name.slice(0, 128)}=${REDACTED}` : REDACTED;
}

/** The value logged for a sensitive key: header-like keys keep a scheme or cookie names. */
export function redactedValue(key: string, value: unknown): string {
  if (typeof value !== "string") return REDACTED;
  const name = key.trim().toLowerCase().replace(/_/g, "-");
  if (!SENSITIVE_HEADERS.has(name)) return REDACTED;
  if (name === "authorization" || name === "proxy-authorization") {
    const match = SCHEME.exec(value);
    return match ? `${match[1]} ${REDACTED}` : REDACTED;
  }
  if (name === "cookie") {
    return value
      .split(";")
      .filter((part) => part.trim())
      .map(redactCookiePair)
      .join("; ");
  }
  if (name === "set-cookie") {
    const semi = value.indexOf(";");
    return semi < 0 ? redactCookiePair(value) : redactCookiePair(value.slice(0, semi)) + value.slice(semi);
  }
  return REDACTED;
}
