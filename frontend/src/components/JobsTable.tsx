import { useState } from "react";
import { useJobs } from "../api/hooks";
import { JOB_TYPE_NAMES } from "../format";
import { Listing, Table } from "./States";

const STATUSES = ["", "queued", "running", "completed", "failed", "cancelled"];
const TYPES = ["", ...Object.keys(JOB_TYPE_NAMES)];

/** Jobs newest first, with status and type filters; a row opens the job. */
export function JobsTable({ all = false, onOpen, selected }: { all?: boolean; onOpen: (id: string) => void; selected?: string | null }) {
  const [status, setStatus] = useState("");
  const [type, setType] = useState("");
  const jobs = useJobs({ status: status || undefined, type: type || undefined, all });
  const prefix = all ? "all" : "my";
  const rows = jobs.data?.pages.flatMap((page) => page.jobs);
  return (
    <section className="card" aria-labelledby={`${prefix}-jobs-title`}>
      <header className="row">
        <h2 id={`${prefix}-jobs-title`}>{all ? "All jobs" : "My jobs"}</h2>
        <label htmlFor={`${prefix}-status`} className="inline">
          Status
          <select id={`${prefix}-status`} value={status} onChange={(e) => setStatus(e.target.value)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || "any"}
              </option>
            ))}
          </select>
        </label>
        <label htmlFor={`${prefix}-type`} className="inline">
          Type
          <select id={`${prefix}-type`} value={type} onChange={(e) => setType(e.target.value)}>
            {TYPES.map((t) => (
              <option key={t} value={t}>
                {t ? JOB_TYPE_NAMES[t] : "any"}
              </option>
            ))}
          </select>
        </label>
      </header>
      <Listing
        query={jobs}
        what="jobs"
        items={rows}
        empty={status || type ? "No job matches these filters." : "No jobs yet: submit one above."}
      >
        {(items) => (
          <Table headers={["Job", ...(all ? ["User"] : []), "Status", "Progress", "Queued"]}>
              {items.map((job) => {
                const progress = job.progress as { percent?: number };
                return (
                  <tr key={job.job_id} className={job.job_id === selected ? "selected" : undefined}>
                    <td>
                      <button type="button" className="link" onClick={() => onOpen(job.job_id)}>
                        {JOB_TYPE_NAMES[job.job_type] ?? job.job_type}
                        {job.details ? ` · ${job.details}` : ""}
                      </button>
                    </td>
                    {all && <td>{job.username}</td>}
                    <td>
                      <span className={`badge badge-${job.status}`}>{job.status}</span>
                    </td>
                    <td>{typeof progress.percent === "number" ? `${Math.round(progress.percent)}%` : "—"}</td>
                    <td>{new Date(job.created_at).toLocaleString()}</td>
                  </tr>
                );
              })}
            </Table>
        )}
      </Listing>
      {jobs.hasNextPage && (
        <button type="button" className="link" onClick={() => jobs.fetchNextPage()} disabled={jobs.isFetchingNextPage}>
          {jobs.isFetchingNextPage ? "Loading…" : "Show older jobs"}
        </button>
      )}
    </section>
  );
}
