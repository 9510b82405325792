import { useStats } from "../api/hooks";
import { duration, JOB_TYPE_NAMES } from "../format";
import { ErrorNote, Loading } from "./States";

const STATUS_COLORS: Record<string, string> = {
  queued: "#94a3b8",
  running: "#3b82f6",
  completed: "#16a34a",
  failed: "#dc2626",
  cancelled: "#a16207",
};

/** Counts, success rate, wait and run time: small bar charts, no library needed for bars. */
export function Stats({ all = false }: { all?: boolean }) {
  const stats = useStats(all);
  if (stats.isPending) return <Loading what="statistics" />;
  if (stats.isError) return <ErrorNote error={stats.error} retry={() => stats.refetch()} />;
  const data = stats.data;
  const counts = (["queued", "running", "completed", "failed", "cancelled"] as const).map((status) => ({
    label: status,
    value: data[status],
    color: STATUS_COLORS[status],
  }));
  const byType = Object.entries(data.by_type).map(([type, figures]) => ({
    label: JOB_TYPE_NAMES[type] ?? type,
    value: figures.total,
    color: "#6366f1",
  }));
  return (
    <section className="card" aria-labelledby="stats-title" data-testid="stats">
      <h2 id="stats-title">{all ? "Everyone's jobs" : "My jobs"} in numbers</h2>
      {data.total === 0 ? (
        <p className="empty">No jobs yet, so no numbers yet.</p>
      ) : (
        <div className="stats-grid">
          <Figure label="Success rate" value={data.success_rate === null ? "—" : `${Math.round(data.success_rate * 100)}%`} />
          <Figure label="Average wait" value={duration(data.wait_seconds.mean)} hint={`p95 ${duration(data.wait_seconds.p95)}`} />
          <Figure label="Average run" value={duration(data.run_seconds.mean)} hint={`p95 ${duration(data.run_seconds.p95)}`} />
          <Figure label="Queued now" value={String(data.queue_length)} />
          <Bars title="By status" rows={counts} />
          <Bars title="By type" rows={byType} />
        </div>
      )}
    </section>
  );
}

function Figure({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <div className="figure">
      <div className="figure-value">{value}</div>
      <div className="muted small">
        {label}
        {hint ? ` · ${hint}` : ""}
      </div>
    </div>
  );
}

export function Bars({ title, rows }: { title: string; rows: { label: string; value: number; color: string }[] }) {
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
