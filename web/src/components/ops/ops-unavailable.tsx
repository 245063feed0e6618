import type { Problem } from "@/lib/problem";

/** A calm notice when the BFF or CloudWatch cannot answer one section of the page. */
export function OpsUnavailable({ what, problem }: { what: string; problem: Problem }) {
  return (
    <div className="ops-notice" role="status">
      <p>
        <strong>{what} unavailable</strong> ({problem.status}): {problem.detail || problem.title}
      </p>
    </div>
  );
}
