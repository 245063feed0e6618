/** Incident codes a user can quote to support; the same string is the report's `incident`. */

const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/** A fresh code such as `K7QD-2MXA` (40 random bits, no look-alike characters). */
export function newIncidentCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let code = "";
  bytes.forEach((byte, i) => (code += (i === 4 ? "-" : "") + ALPHABET[byte & 31]));
  return code;
}

/** The incident code for a Next.js error digest (6-32 of `[A-Z0-9-]`); server and page agree on it. */
export function incidentFromDigest(digest: string): string {
  const code = digest.toUpperCase().replace(/[^A-Z0-9-]/g, "-").slice(0, 32);
  return code.length < 6 ? `D-${code}`.padEnd(6, "0") : code;
}
