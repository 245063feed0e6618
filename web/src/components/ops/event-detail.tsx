import { failedRequestIds, framesOf, type OpsEvent } from "@/lib/ops";

import { FrameList } from "./frame-list";

const FIELDS = ["incident", "kind", "source", "release", "route", "url", "session", "user_agent", "client_ip", "received_at"];

function text(value: unknown): string {
  if (value === null || value === undefined || value === "") return "–";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** One client-error event: its facts, request ids and symbolicated stack. */
export function EventDetail({ event }: { event: OpsEvent }) {
  const data = event.data;
  const requestIds = failedRequestIds(event);
  return (
    <div className="ops-event">
      <dl className="ops-facts">
        {FIELDS.map((name) => (
          <div key={name}>
            <dt>{name.replace("_", " ")}</dt>
            <dd>{text(data[name])}</dd>
          </div>
        ))}
        <div>
          <dt>request id</dt>
          <dd>
            <code>{text(event.request_id)}</code>
          </dd>
        </div>
        <div>
          <dt>failed API calls</dt>
          <dd>{requestIds.length ? requestIds.join(", ") : "–"}</dd>
        </div>
      </dl>
      <h4 className="ops-subhead">Stack</h4>
      <FrameList frames={framesOf(data)} />
    </div>
  );
}
