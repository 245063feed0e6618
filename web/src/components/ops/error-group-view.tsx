import Link from "next/link";

import { setGroupResolution } from "@/app/ops/actions";
import { absoluteTime, isOpsEvent } from "@/lib/ops";
import { getErrorGroup } from "@/lib/ops-api";

import { EventDetail } from "./event-detail";
import { OpsUnavailable } from "./ops-unavailable";
import { Sparkline } from "./sparkline";
import { When } from "./when";

/** One error group: what it is, where and in which releases it happens, its latest occurrences. */
export async function ErrorGroupView({ fingerprint }: { fingerprint: string }) {
  const back = (
    <p>
      <Link href="/ops">← Operations</Link>
    </p>
  );
  const result = await getErrorGroup(fingerprint);
  if (!result.ok) {
    return (
      <>
        {back}
        <h1>
          Error group <code>{fingerprint}</code>
        </h1>
        {result.problem.status === 404 ? (
          <p className="ops-muted" role="status">
            No such group: groups are kept 14 days after their last event.
          </p>
        ) : (
          <OpsUnavailable what="Error group" problem={result.problem} />
        )}
      </>
    );
  }
  const g = result.data;
  const now = result.receivedAt;
  const resolved = g.status === "resolved";
  const perMinute = g.minutes.map((m) => m.count);
  const sample = isOpsEvent(g.sample) ? g.sample : null;
  return (
    <>
      {back}
      <h1>
        {g.type}: {g.message || "(no message)"}
      </h1>
      <section className="ops-card" aria-labelledby="ops-group-state">
        <h2 id="ops-group-state">
          {resolved ? "Resolved" : "Open"} <span className="ops-muted">fingerprint {g.fingerprint}</span>
        </h2>
        <p>
          {resolved
            ? `Resolved ${g.resolved_at ? absoluteTime(g.resolved_at) : ""} at release ${g.resolved_release ?? "(none)"}; it reopens when it comes back in a newer release.`
            : g.reopened_in
              ? `Reopened ${g.reopened_at ? absoluteTime(g.reopened_at) : ""}: it came back in release ${g.reopened_in}.`
              : "Open."}
        </p>
        <form action={setGroupResolution}>
          <input type="hidden" name="fingerprint" value={g.fingerprint} />
          <input type="hidden" name="resolved" value={resolved ? "0" : "1"} />
          <button type="submit" className="ops-button">
            {resolved ? "Reopen" : "Mark resolved"}
          </button>
        </form>
        <dl className="ops-counters">
          <div>
            <dt>events</dt>
            <dd>{g.count}</dd>
          </div>
          <div>
            <dt>sessions</dt>
            <dd>{g.sessions ?? 0}</dd>
          </div>
          <div>
            <dt>first seen</dt>
            <dd>{g.first_seen ? <When iso={g.first_seen} now={now} /> : "–"}</dd>
          </div>
          <div>
            <dt>last seen</dt>
            <dd>{g.last_seen ? <When iso={g.last_seen} now={now} /> : "–"}</dd>
          </div>
        </dl>
        <h3 className="ops-subhead">Events per minute, last {g.minutes.length / 60} h</h3>
        <Sparkline values={perMinute} width={720} height={48} label={`Events per minute, last ${g.minutes.length / 60} hours`} />
      </section>

      <section className="ops-card" aria-labelledby="ops-group-where">
        <h2 id="ops-group-where">Releases and routes</h2>
        <div className="ops-split">
          <table className="ops-table">
            <caption className="visually-hidden">Releases affected</caption>
            <thead>
              <tr>
                <th scope="col">Release</th>
                <th scope="col" className="ops-num">
                  Events
                </th>
                <th scope="col">Release first seen</th>
              </tr>
            </thead>
            <tbody>
              {g.releases.map((r) => (
                <tr key={r.release}>
                  <td>
                    <code>{r.release}</code>
                  </td>
                  <td className="ops-num">{r.count}</td>
                  <td>{r.first_seen ? absoluteTime(r.first_seen) : "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <table className="ops-table">
            <caption className="visually-hidden">Routes affected</caption>
            <thead>
              <tr>
                <th scope="col">Route</th>
                <th scope="col" className="ops-num">
                  Events
                </th>
              </tr>
            </thead>
            <tbody>
              {g.routes.map((r) => (
                <tr key={r.route}>
                  <td>
                    <code>{r.route}</code>
                  </td>
                  <td className="ops-num">{r.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section className="ops-card" aria-labelledby="ops-group-latest">
        <h2 id="ops-group-latest">Latest occurrences</h2>
        <div className="ops-related-wrap" tabIndex={0} role="region" aria-label="Latest occurrences, scrollable">
          <table className="ops-table ops-latest">
            <caption className="visually-hidden">Latest occurrences, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Incident</th>
                <th scope="col">Request id</th>
                <th scope="col">Release</th>
                <th scope="col">Route</th>
                <th scope="col">Failed API calls</th>
              </tr>
            </thead>
            <tbody>
              {g.latest.map((o, i) => (
                <tr key={i}>
                  <td>{o.timestamp ? absoluteTime(o.timestamp) : "–"}</td>
                  <td>{o.incident ? <Link href={`/ops/incidents/${o.incident}`}>{o.incident}</Link> : "–"}</td>
                  <td>
                    <code>{o.request_id ?? "–"}</code>
                  </td>
                  <td>{o.release ?? "–"}</td>
                  <td>{o.route ?? "–"}</td>
                  <td>
                    <code>{o.failed_request_ids?.join(", ") || "–"}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      {sample ? (
        <section className="ops-card" aria-labelledby="ops-group-sample">
          <h2 id="ops-group-sample">Latest event</h2>
          <EventDetail event={sample} />
        </section>
      ) : null}
    </>
  );
}
