/**
 * The request id the server gave this document, read from its `Server-Timing: rid;desc="<id>"`
 * (set by the web server's request hook), or "" when absent or unusable. Client-safe.
 */

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export function documentRequestId(): string {
  try {
    const [navigation] = performance.getEntriesByType("navigation") as PerformanceNavigationTiming[];
    const id = navigation?.serverTiming?.find((entry) => entry.name === "rid")?.description ?? "";
    return REQUEST_ID.test(id) ? id : "";
  } catch {
    return "";
  }
}
