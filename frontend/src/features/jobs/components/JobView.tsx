import { ErrorNote, Loading } from "../../../components/States";
import { StatusBadge } from "../../../components/StatusBadge";
import { useJobType } from "../../../lib/api/get-job-types";
import { useJobStatus } from "../../../lib/api/get-job-status";
import { duration } from "../../../lib/format";
import { useJobText } from "../../../lib/live";
import { readProgress } from "../../../lib/progress";
import { longest } from "../../../lib/text-store";
import { JobActions } from "./JobActions";
import { JobPlace } from "./JobPlace";
import { JobProgress } from "./JobProgress";
import { JobResult } from "./JobResult";
import { StreamingText } from "./StreamingText";

/** One job: status, place in the queue or progress, the text as it streams, then the result. */
export function JobView({ jobId, onClose }: { jobId: string; onClose?: () => void }) {
  const job = useJobStatus(jobId);
  const liveText = useJobText(jobId);
  const { type, isPending: typePending } = useJobType(job.data?.job_type ?? "");
  if (job.isPending) return <Loading what="the job" />;
  if (job.isError) return <ErrorNote error={job.error} retry={() => job.refetch()} />;
  const status = job.data;
  const progress = readProgress(status.progress);
  const text = longest(liveText, progress.text);
  return (
    <section className="card job-view" aria-labelledby="job-title" data-testid="job-view" data-status={status.status}>
      <header className="row">
        <h2 id="job-title">
          {type.label}
          {status.details ? ` · ${status.details}` : ""}
        </h2>
        {onClose && (
          <button type="button" className="link" onClick={onClose} aria-label="Close the job">
            ✕
          </button>
        )}
      </header>
      <p className="row">
        <StatusBadge status={status.status} testId="job-status" />
        <JobPlace job={status} since={job.dataUpdatedAt} />
      </p>
      <JobProgress status={status.status} progress={progress} />
      {status.error_message && <div className="error" role="alert">{status.error_message}</div>}
      <JobActions status={status.status} jobId={jobId} />
      {status.status === "completed" ? (
        typePending ? <Loading what="the result" /> : <JobResult jobId={jobId} kind={type.result_kind} fallbackText={text} />
      ) : (
        text && <StreamingText text={text} kind={type.result_kind} />
      )}
      {progress.log_tail && progress.log_tail.length > 0 && (
        <details>
          <summary>Command output</summary>
          <pre className="stream">{progress.log_tail.join("\n")}</pre>
        </details>
      )}
      <p className="muted small">
        queued {new Date(status.created_at).toLocaleTimeString()}
        {status.started_at && ` · started ${new Date(status.started_at).toLocaleTimeString()}`}
        {status.finished_at &&
          status.started_at &&
          ` · ran ${duration((Date.parse(status.finished_at) - Date.parse(status.started_at)) / 1000)}`}
      </p>
    </section>
  );
}
