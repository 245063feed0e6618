import { chartGeometry, describeTraffic, minuteLabel, type TrafficBucket } from "@/lib/ops";

const BOX = { width: 720, height: 200, left: 40, right: 12, top: 12, bottom: 28 };

/** Requests (line) and 4xx/5xx answers (bars) per minute, as a server-rendered SVG. */
export function TrafficChart({ buckets }: { buckets: TrafficBucket[] }) {
  const g = chartGeometry(buckets, BOX);
  const summary = describeTraffic(buckets);
  const busy = buckets.filter((b) => b.requests > 0);
  return (
    <figure className="ops-chart">
      <svg
        viewBox={`0 0 ${BOX.width} ${BOX.height}`}
        role="img"
        aria-label={`Requests and errors per minute. ${summary}`}
        preserveAspectRatio="none"
      >
        <title id="ops-chart-title">Requests and errors per minute</title>
        <desc id="ops-chart-desc">{summary}</desc>
        {g.yTicks.map((t) => (
          <g key={t.y}>
            <line x1={BOX.left} x2={BOX.width - BOX.right} y1={t.y} y2={t.y} className="ops-chart__grid" />
            <text x={BOX.left - 6} y={t.y + 4} textAnchor="end" className="ops-chart__label">
              {t.label}
            </text>
          </g>
        ))}
        {g.xTicks.map((t) => (
          <text key={t.x} x={t.x} y={BOX.height - 8} textAnchor={t.anchor} className="ops-chart__label">
            {t.label}
          </text>
        ))}
        {g.bars.map((b) => (
          <g key={b.t}>
            {b.h5xx > 0 ? <rect x={b.x} y={b.y5xx} width={b.width} height={b.h5xx} className="ops-chart__5xx" /> : null}
            {b.h4xx > 0 ? <rect x={b.x} y={b.y4xx} width={b.width} height={b.h4xx} className="ops-chart__4xx" /> : null}
          </g>
        ))}
        <polyline points={g.requests} className="ops-chart__requests" />
      </svg>
      <figcaption>
        <span className="ops-key ops-key--requests">requests</span>
        <span className="ops-key ops-key--4xx">4xx</span>
        <span className="ops-key ops-key--5xx">5xx</span> per minute (UTC). {summary}
      </figcaption>
      <table className="visually-hidden">
        <caption>Minutes with traffic</caption>
        <thead>
          <tr>
            <th scope="col">Minute (UTC)</th>
            <th scope="col">Requests</th>
            <th scope="col">4xx</th>
            <th scope="col">5xx</th>
            <th scope="col">Client errors</th>
          </tr>
        </thead>
        <tbody>
          {busy.map((b) => (
            <tr key={b.t}>
              <th scope="row">{minuteLabel(b.t)}</th>
              <td>{b.requests}</td>
              <td>{b.errors_4xx}</td>
              <td>{b.errors_5xx}</td>
              <td>{b.client_errors ?? 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
