import type { components } from "./bff-api";

/** RFC 9457 problem details from the BFF and the APIs behind it, in words for people. Client-safe. */

type Schemas = components["schemas"];

export type FieldError = Schemas["CatalogFieldError"] & Schemas["OrdersFieldErrorModel"];

/** Any problem the site may receive: the BFF's own (with `request_id`) or an upstream's (with `errors`). */
export type Problem = Schemas["Problem"] & { errors?: FieldError[] | null };

export const REQUEST_ID_HEADER = "x-request-id";

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isFieldError(value: unknown): value is FieldError {
  return isRecord(value) && typeof value["field"] === "string" && typeof value["message"] === "string";
}

export function isProblem(value: unknown): value is Problem {
  if (!isRecord(value)) return false;
  const { type, title, status, detail, instance, errors, request_id: requestId } = value;
  return (
    typeof type === "string" &&
    typeof title === "string" &&
    typeof status === "number" &&
    Number.isInteger(status) &&
    (detail === undefined || typeof detail === "string") &&
    (instance === undefined || typeof instance === "string") &&
    (requestId === undefined || typeof requestId === "string") &&
    (errors === undefined || errors === null || (Array.isArray(errors) && errors.every(isFieldError)))
  );
}

/** A problem for failures that never produced a problem+json body. */
export function makeProblem(status: number, title: string, detail: string): Problem {
  return { type: "about:blank", title, status, detail };
}

/** A heading and a sentence a shopper understands, for a failed call to `service`. */
export type ProblemWords = { heading: string; message: string; retryable: boolean };

/** Turns a problem into words: outages become a calm explanation, client errors keep their detail. */
export function describeProblem(problem: Problem, service: string): ProblemWords {
  switch (problem.status) {
    case 502:
      return {
        heading: `We can't reach the ${service} right now`,
        message: "It may be restarting or briefly out of reach. Please try again in a moment.",
        retryable: true,
      };
    case 503:
      return {
        heading: `The ${service} is temporarily unavailable`,
        message: "It had trouble answering, so we are giving it a short rest. Please try again in a few seconds.",
        retryable: true,
      };
    case 504:
      return {
        heading: `The ${service} is taking too long to answer`,
        message: "Nothing was lost. Please try again in a moment.",
        retryable: true,
      };
    case 429:
      return {
        heading: "Too many requests",
        message: "Please wait a few seconds, then try again.",
        retryable: true,
      };
    default:
      break;
  }
  if (problem.status >= 500) {
    return {
      heading: `The ${service} ran into a problem`,
      message: "Something went wrong on our side. Please try again; if it keeps happening, contact us with the reference below.",
      retryable: true,
    };
  }
  const fields = problem.errors?.length ?? 0;
  if (fields > 0) {
    return {
      heading: fields === 1 ? "Please check the highlighted field" : "Please check the highlighted fields",
      message: "Nothing was sent: correct what is marked and try again.",
      retryable: false,
    };
  }
  return {
    heading: problem.title || "The request could not be completed",
    message: problem.detail || "Please check what you entered and try again.",
    retryable: false,
  };
}

/**
 * Field errors grouped by field path (`customer_email`, `items.0.quantity`), messages in order.
 * Paths not in `known` are collected under "" so the form can still show them.
 */
export function fieldErrors(problem: Problem, known?: ReadonlyMap<string, string>): Map<string, string[]> {
  const grouped = new Map<string, string[]>();
  for (const { field, message } of problem.errors ?? []) {
    const key = known ? (known.get(field) ?? "") : field;
    const messages = grouped.get(key) ?? [];
    messages.push(message);
    grouped.set(key, messages);
  }
  return grouped;
}

/** A random request id; falls back when crypto.randomUUID is unavailable (non-secure contexts). */
export function newRequestId(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
