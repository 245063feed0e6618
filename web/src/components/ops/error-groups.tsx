import Link from "next/link";

import type { ErrorGroup } from "@/lib/ops";

import { Sparkline } from "./sparkline";
import { When } from "./when";

/** Error groups from the BFF's index, most frequent first; each links to its page. */
export function ErrorGroups({ groups, now }: { groups: ErrorGroup[]; now: number }) {
  if (groups.length === 0) return <p className="ops-muted">No error groups in this window.</p>;
  return (
    <table className="ops-table ops-groups">
      <caption className="visually-hidden">Client errors grouped by fingerprint</caption>
      <thead>
        <tr>
          <th scope="col" className="ops-num">
            Count
          </th>
          <th scope="col">Error</th>
          <th scope="col">Last hour</th>
          <th scope="col">First seen</th>
          <th scope="col">Last seen</th>
          <th scope="col">Releases</th>
        </tr>
      </thead>
      <tbody>
        {groups.map((g) => (
          <tr key={g.fingerprint} data-fingerprint={g.fingerprint}>
            <td className="ops-num">{g.count}</td>
            <td>
              <Link href={`/ops/errors/${g.fingerprint}`}>
                <strong>{g.type}</strong>: {g.message || "(no message)"}
              </Link>
              {g.status === "resolved" ? <span className="ops-badge ops-badge--ok"> resolved</span> : null}
              {g.status === "open" && g.reopened_in ? <span className="ops-badge ops-badge--bad"> reopened in {g.reopened_in}</span> : null}
              <p className="ops-muted">
                {g.routes.length ? g.routes.join(", ") : "no route"} · {g.sessions} session{g.sessions === 1 ? "" : "s"}
              </p>
            </td>
            <td>
              <Sparkline values={g.sparkline} label="Events per minute, last hour" />
            </td>
            <td>{g.first_seen ? <When iso={g.first_seen} now={now} /> : "–"}</td>
            <td>{g.last_seen ? <When iso={g.last_seen} now={now} /> : "–"}</td>
            <td>{g.releases.join(", ") || "–"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
