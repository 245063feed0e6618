import { absoluteTime, failedRequestIds, formatStatus, recordsForEvent, type OpsEvent, type Related } from "@/lib/ops";

/** The server log records (every service) of one event's failed API calls, as a compact table. */
export function RelatedRecords({ event, related }: { event: OpsEvent; related: Related | undefined }) {
  const ids = failedRequestIds(event);
  const records = related ? recordsForEvent(event, related.records) : [];
  const heading = <h4 className="ops-subhead">Server records for this incident&apos;s failed requests</h4>;
  if (ids.length === 0) {
    return (
      <>
        {heading}
        <p className="ops-muted">The browser reported no failed API calls with this error.</p>
      </>
    );
  }
  if (related?.unavailable) {
    return (
      <>
        {heading}
        <p className="ops-notice" role="status">
          Server records could not be read: {related.unavailable}
        </p>
      </>
    );
  }
  if (records.length === 0) {
    return (
      <>
        {heading}
        <p className="ops-muted">
          No server records carry these request ids
          {related?.start && related.end ? ` between ${absoluteTime(related.start)} and ${absoluteTime(related.end)}` : ""}. Records
          can take a few seconds to arrive.
        </p>
      </>
    );
  }
  return (
    <>
      {heading}
      <div className="ops-related-wrap" tabIndex={0} role="region" aria-label="Server records, scrollable">
        <table className="ops-table ops-related">
          <caption className="visually-hidden">Server records for this incident&apos;s failed requests</caption>
          <thead>
            <tr>
              <th scope="col">Time (UTC)</th>
              <th scope="col">Service</th>
              <th scope="col">Request id</th>
              <th scope="col">Level</th>
              <th scope="col">Request</th>
              <th scope="col">Status</th>
              <th scope="col" className="ops-num">
                Duration
              </th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {records.map((r, i) => (
              <tr key={i}>
                <td>
                  <time dateTime={r.timestamp}>{absoluteTime(r.timestamp)}</time>
                </td>
                <td title={r.logger ?? undefined}>{r.service}</td>
                <td>
                  <code>{r.request_id ?? "–"}</code>
                </td>
                <td>{r.level ?? "–"}</td>
                <td>{r.method && r.path ? `${r.method} ${r.path}` : "–"}</td>
                <td>{formatStatus(r)}</td>
                <td className="ops-num">{typeof r.duration_ms === "number" ? `${r.duration_ms.toFixed(1)} ms` : "–"}</td>
                <td>{r.message ?? "–"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {related?.truncated ? <p className="ops-muted">The search stopped early; more records may exist.</p> : null}
    </>
  );
}
