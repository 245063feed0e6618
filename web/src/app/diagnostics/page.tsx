import Link from "next/link";
import { notFound } from "next/navigation";

import { diagnosticsEnabled } from "@/lib/env";

// Read WEB_DIAGNOSTICS per request: the same build runs with and without it.
export const dynamic = "force-dynamic";

const PAGES = [
  ["uncaught-error", "Uncaught error"],
  ["unhandled-rejection", "Unhandled promise rejection"],
  ["boundary-error", "Render error caught by an error boundary"],
  ["server-error", "Server render error"],
  ["csp-violation", "Content Security Policy violation"],
] as const;

export default function DiagnosticsPage() {
  if (!diagnosticsEnabled()) notFound();
  return (
    <section>
      <h1>Diagnostics</h1>
      <p>Pages that fail on purpose, to check that error reports arrive.</p>
      <ul>
        {PAGES.map(([slug, title]) => (
          <li key={slug}>
            <Link href={`/diagnostics/${slug}`}>{title}</Link>
          </li>
        ))}
      </ul>
    </section>
  );
}
