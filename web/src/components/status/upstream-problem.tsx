import Link from "next/link";

import { describeProblem, type Problem } from "@/lib/problem";

/** A failed call to a service, in words a person understands, with a retry link and the request id. */
export function UpstreamProblem({
  problem,
  requestId,
  service,
  retryHref,
}: {
  problem: Problem;
  requestId: string;
  service: string;
  retryHref: string;
}) {
  const words = describeProblem(problem, service);
  return (
    <section className="notice notice--problem" role="alert" aria-labelledby="upstream-problem-heading">
      <h2 id="upstream-problem-heading">{words.heading}</h2>
      <p>{words.message}</p>
      <p>
        <Link href={retryHref} prefetch={false} className="button button--secondary">
          {words.retryable ? "Try again" : "Start over"}
        </Link>
      </p>
      <p className="request-id">
        Reference: <span data-testid="request-id">{requestId}</span>
      </p>
    </section>
  );
}
