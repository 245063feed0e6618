import type { Upstream } from "@/lib/ops";

/** Upstream health: name, host, status and the latency of the health probe. */
export function UpstreamTable({ upstreams }: { upstreams: Upstream[] }) {
  return (
    <table className="ops-table">
      <caption className="visually-hidden">Upstream health</caption>
      <thead>
        <tr>
          <th scope="col">Upstream</th>
          <th scope="col">Host</th>
          <th scope="col">Status</th>
          <th scope="col" className="ops-num">
            Latency
          </th>
          <th scope="col">Circuit</th>
        </tr>
      </thead>
      <tbody>
        {upstreams.map((u) => (
          <tr key={u.name}>
            <th scope="row">{u.name}</th>
            <td>
              <code>{u.host}</code>
            </td>
            <td>
              <span className={u.healthy ? "ops-badge ops-badge--ok" : "ops-badge ops-badge--bad"}>
                {u.healthy ? "healthy" : "down"}
              </span>{" "}
              {u.healthy ? null : <span>{u.error ?? `HTTP ${u.status ?? "?"}`}</span>}
            </td>
            <td className="ops-num">{u.latency_ms.toFixed(1)} ms</td>
            <td>{u.circuit}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
