import { ErrorNote, Loading } from "../../../components/States";
import { findJobType, useJobTypes } from "../../../lib/api/get-job-types";
import { duration } from "../../../lib/format";
import { JOB_STATES, type JobState } from "../../../lib/job-states";
import { useStats } from "../api/get-stats";
import { Bars } from "./Bars";

const STATE_COLORS: Record<JobState, string> = {
  queued: "#94a3b8",
  running: "#3b82f6",
  completed: "#16a34a",
  failed: "#dc2626",
  cancelled: "#a16207",
};

/** Counts, success rate, wait and run time, for the user's jobs or (`all`) everyone's. */
export function Stats({ all = false }: { all?: boolean }) {
  const stats = useStats(all);
  const types = useJobTypes();
  if (stats.isPending) return <Loading what="statistics" />;
  if (stats.isError) return <ErrorNote error={stats.error} retry={() => stats.refetch()} />;
  const data = stats.data;
  const byState = JOB_STATES.map((state) => ({ label: state, value: data[state], color: STATE_COLORS[state] }));
  const byType = Object.entries(data.by_type).map(([type, figures]) => ({
    label: findJobType(types.data, type).label,
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
          <Bars title="By status" rows={byState} />
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
