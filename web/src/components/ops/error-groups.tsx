import Link from "next/link";

import type { ErrorGroup } from "@/lib/ops";

import { EventDetail } from "./event-detail";
import { When } from "./when";

/** Client errors grouped by fingerprint, most frequent first, each with an expandable sample. */
export function ErrorGroups({ groups, now }: { groups: ErrorGroup[]; now: number }) {
  if (groups.length === 0) return <p className="ops-muted">No client errors in this window.</p>;
  return (
    <table className="ops-table ops-groups">
      <caption className="visually-hidden">Client errors grouped by fingerprint</caption>
      <thead>
        <tr>
          <th scope="col" className="ops-num">
            Count
          </th>
          <th scope="col">Error</th>
          <th scope="col">First seen</th>
          <th scope="col">Last seen</th>
          <th scope="col">Release</th>
        </tr>
      </thead>
      <tbody>
        {groups.map((g) => (
          <tr key={g.fingerprint}>
            <td className="ops-num">{g.count}</td>
            <td>
              <details>
                <summary>
                  <strong>{g.type}</strong>: {g.message || "(no message)"}
                </summary>
                <p className="ops-muted">
                  fingerprint <code>{g.fingerprint}</code> · {g.sessions} session{g.sessions === 1 ? "" : "s"} ·
                  incidents{" "}
                  {g.incidents.map((code, i) => (
                    <span key={code}>
                      {i ? ", " : ""}
                      <Link href={`/ops/incidents/${code}`}>{code}</Link>
                    </span>
                  ))}
                </p>
                <EventDetail event={g.sample} />
              </details>
            </td>
            <td>
              <When iso={g.first_seen} now={now} />
            </td>
            <td>
              <When iso={g.last_seen} now={now} />
            </td>
            <td>{g.releases.join(", ") || "–"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
