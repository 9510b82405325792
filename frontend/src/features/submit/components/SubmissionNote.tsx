import { useState } from "react";
import { StartsIn } from "../../../components/StartsIn";
import type { JobAccepted } from "../../../lib/api-client";
import { useJobStatus, type JobView } from "../../../lib/api/get-job-status";
import { duration } from "../../../lib/format";
import type { JobState } from "../../../lib/job-states";
import { progressSummary, readProgress } from "../../../lib/progress";

/** Under the submit button: where the job just submitted stands now. It reads the job query the job
 *  view and the banner read, so it moves on from "Queued" when they do; until that query answers, the
 *  submission's own answer (position and ETA) stands in. */
export function SubmissionNote({ accepted }: { accepted: JobAccepted }) {
  const job = useJobStatus(accepted.job_id);
  const [answeredAt] = useState(Date.now);
  const status = job.data;
  return (
    <p className="notice" role="status" data-testid="accepted" data-status={status?.status ?? accepted.status}>
      {status ? (
        <Current job={status} since={job.dataUpdatedAt} />
      ) : (
        <Queued position={accepted.position} eta={accepted.eta_seconds} since={answeredAt} />
      )}
    </p>
  );
}

function Queued({ position, eta, since }: { position?: number | null; eta?: number | null; since: number }) {
  return (
    <>
      Queued — position {(position ?? 0) + 1}, <StartsIn eta={eta} since={since} />.
    </>
  );
}

function Current({ job, since }: { job: JobView; since: number }) {
  switch (job.status as JobState) {
    case "queued":
      return <Queued position={job.position} eta={job.eta_seconds} since={since} />;
    case "running": {
      const summary = progressSummary(job.status, readProgress(job.progress));
      return <>Running{summary ? ` — ${summary}` : ""}.</>;
    }
    case "completed":
      return <>Completed{job.started_at && job.finished_at ? ` in ${ranFor(job.started_at, job.finished_at)}` : ""}.</>;
    default:
      return (
        <>
          {job.status[0].toUpperCase() + job.status.slice(1)}
          {job.error_message ? `: ${job.error_message}` : "."}
        </>
      );
  }
}

function ranFor(startedAt: string, finishedAt: string): string {
  return duration((Date.parse(finishedAt) - Date.parse(startedAt)) / 1000);
}
