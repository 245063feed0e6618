import type { OpsSummary } from "@/lib/ops";

const COUNTERS = ["queued", "sent", "retried", "spooled", "replayed", "dropped_total", "truncated", "buffer_events"];

/** Log shipping counters of the BFF worker that answered. */
export function ShippingCounters({ logging }: { logging: OpsSummary["logging"] }) {
  const stats = logging.stats;
  return (
    <>
      <p className="ops-muted">
        {logging.shipping ? `Shipping to ${logging.group ?? "?"}` : "CloudWatch shipping is off"} — worker pid{" "}
        {logging.pid}
        {stats["healthy"] === false ? <strong className="ops-error"> (endpoint failing)</strong> : null}
      </p>
      {logging.shipping ? (
        <dl className="ops-counters">
          {COUNTERS.map((name) => (
            <div key={name}>
              <dt>{name.replace("_total", "").replace("_", " ")}</dt>
              <dd>{typeof stats[name] === "number" ? String(stats[name]) : "–"}</dd>
            </div>
          ))}
        </dl>
      ) : null}
    </>
  );
}
