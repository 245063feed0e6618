import { absoluteTime, relativeTime } from "@/lib/ops";

/** A time shown relative ("5 min ago") with the absolute UTC time beside it. */
export function When({ iso, now }: { iso: string; now: number }) {
  return (
    <time dateTime={iso} className="ops-when">
      {relativeTime(iso, now)}
      <span className="ops-muted"> {absoluteTime(iso)}</span>
    </time>
  );
}
