/** RFC 9457 problem details, as returned by the BFF. Safe for client and server. */

export type FieldError = { field: string; message: string };

export type Problem = {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldError[];
};

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isFieldError(value: unknown): value is FieldError {
  return isRecord(value) && typeof value["field"] === "string" && typeof value["message"] === "string";
}

export function isProblem(value: unknown): value is Problem {
  if (!isRecord(value)) return false;
  const { type, title, status, detail, instance, errors } = value;
  return (
    typeof type === "string" &&
    typeof title === "string" &&
    typeof status === "number" &&
    (detail === undefined || typeof detail === "string") &&
    (instance === undefined || typeof instance === "string") &&
    (errors === undefined || (Array.isArray(errors) && errors.every(isFieldError)))
  );
}

/** A problem for failures that never produced a problem+json body. */
export function makeProblem(status: number, title: string, detail: string): Problem {
  return { type: "about:blank", title, status, detail };
}

/** One human-readable line: the detail (or title), then any field errors. */
export function describeProblem(problem: Problem): string {
  const head = problem.detail || problem.title;
  const fields = (problem.errors ?? []).map((e) => `${e.field}: ${e.message}`);
  return fields.length ? `${head} (${fields.join("; ")})` : head;
}

export const REQUEST_ID_HEADER = "x-request-id";

/** A random request id; falls back when crypto.randomUUID is unavailable (non-secure contexts). */
export function newRequestId(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
