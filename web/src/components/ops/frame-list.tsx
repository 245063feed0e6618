import { formatFrame, type Frame } from "@/lib/ops";

/** A symbolicated stack, one `function (file:line:col)` per line with each frame's status. */
export function FrameList({ frames }: { frames: Frame[] }) {
  if (frames.length === 0) return <p className="ops-muted">No stack frames.</p>;
  return (
    <ol className="ops-frames">
      {frames.map((frame, i) => (
        <li key={i}>
          <code>{formatFrame(frame)}</code>{" "}
          <span className={frame.status === "symbolicated" ? "ops-badge ops-badge--ok" : "ops-badge"}>
            {frame.status ?? "unknown"}
          </span>
          {frame.status === "symbolicated" && frame.minified ? (
            <span className="ops-muted">
              {" "}
              from {frame.minified.file ?? "?"}:{frame.minified.line ?? "?"}:{frame.minified.column ?? "?"}
            </span>
          ) : null}
        </li>
      ))}
    </ol>
  );
}
