import type { Problem } from "@/lib/problem";

export function CatalogUnavailable({ problem, requestId }: { problem: Problem; requestId: string }) {
  const clientError = problem.status >= 400 && problem.status < 500;
  return (
    <section className="notice" role="status">
      <h2>{clientError ? "That search could not be run" : "The catalog is unavailable right now"}</h2>
      <p>{clientError ? problem.detail || problem.title : "Please try again in a moment."}</p>
      <p className="request-id">Request ID: {requestId}</p>
    </section>
  );
}
