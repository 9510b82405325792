import { useState } from "react";
import { Listing } from "../../../components/Listing";
import { StatusBadge } from "../../../components/StatusBadge";
import { Table } from "../../../components/Table";
import { findJobType, useJobTypes } from "../../../lib/api/get-job-types";
import type { JobView } from "../../../lib/api/get-job-status";
import { JOB_STATES } from "../../../lib/job-states";
import { progressSummary, readProgress } from "../../../lib/progress";
import { useJobs } from "../api/get-jobs";

/** Jobs newest first, with status and type filters; a row opens the job. */
export function JobsTable({ all = false, onOpen, selected }: { all?: boolean; onOpen: (id: string) => void; selected?: string | null }) {
  const [status, setStatus] = useState("");
  const [type, setType] = useState("");
  const jobs = useJobs({ status: status || undefined, type: type || undefined, all });
  const types = useJobTypes();
  const prefix = all ? "all" : "my";
  const rows = jobs.data?.pages.flatMap((page) => page.jobs);
  return (
    <section className="card" aria-labelledby={`${prefix}-jobs-title`}>
      <header className="row">
        <h2 id={`${prefix}-jobs-title`}>{all ? "All jobs" : "My jobs"}</h2>
        <label htmlFor={`${prefix}-status`} className="inline">
          Status
          <select id={`${prefix}-status`} value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">any</option>
            {JOB_STATES.map((state) => (
              <option key={state}>{state}</option>
            ))}
          </select>
        </label>
        <label htmlFor={`${prefix}-type`} className="inline">
          Type
          <select id={`${prefix}-type`} value={type} onChange={(e) => setType(e.target.value)}>
            <option value="">any</option>
            {types.data?.map((entry) => (
              <option key={entry.job_type} value={entry.job_type}>
                {entry.label}
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
            {items.map((job) => (
              <tr key={job.job_id} className={job.job_id === selected ? "selected" : undefined}>
                <td>
                  <button type="button" className="link" onClick={() => onOpen(job.job_id)}>
                    {findJobType(types.data, job.job_type).label}
                    {job.details ? ` · ${job.details}` : ""}
                  </button>
                </td>
                {all && <td>{job.username}</td>}
                <td>
                  <StatusBadge status={job.status} />
                </td>
                <td>{progressCell(job)}</td>
                <td>{new Date(job.created_at).toLocaleString()}</td>
              </tr>
            ))}
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

/** A running job always says something: its percent, its tokens, or that it is working. */
function progressCell(job: JobView): string {
  const summary = progressSummary(job.status, readProgress(job.progress));
  return summary ?? (job.status === "running" ? "working…" : "—");
}
