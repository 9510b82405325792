export interface Bar {
  label: string;
  value: number;
  color: string;
}

/** A small horizontal bar chart in SVG: no chart library needed for bars. */
export function Bars({ title, rows }: { title: string; rows: Bar[] }) {
  const max = Math.max(1, ...rows.map((row) => row.value));
  return (
    <figure className="bars">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 200 ${rows.length * 22}`} role="img" aria-label={rows.map((r) => `${r.label}: ${r.value}`).join(", ")}>
        {rows.map((row, index) => (
          <g key={row.label} transform={`translate(0 ${index * 22})`}>
            <text x={0} y={14} className="bar-label">
              {row.label}
            </text>
            <rect x={80} y={4} height={14} width={(100 * row.value) / max} fill={row.color} rx={2} />
            <text x={84 + (100 * row.value) / max} y={15} className="bar-value">
              {row.value}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}
