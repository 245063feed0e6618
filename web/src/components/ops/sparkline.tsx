import { sparklinePoints } from "@/lib/ops";

/** Events per minute as a small line (decorative: the numbers are given beside it). */
export function Sparkline({ values, width = 120, height = 24, label }: { values: number[]; width?: number; height?: number; label: string }) {
  const total = values.reduce((a, b) => a + b, 0);
  return (
    <svg
      className="ops-sparkline"
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      height={height}
      role="img"
      aria-label={`${label}: ${total} event${total === 1 ? "" : "s"}`}
    >
      <polyline points={sparklinePoints(values, width, height)} />
    </svg>
  );
}
