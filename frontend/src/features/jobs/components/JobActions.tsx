import { ErrorNote } from "../../../components/States";
import { isTerminal } from "../../../lib/job-states";
import { useCancelJob } from "../api/cancel-job";
import { useRetryJob } from "../api/retry-job";

/** Cancel while the job may still run; retry once it failed or was cancelled. */
export function JobActions({ status, jobId }: { status: string; jobId: string }) {
  const cancel = useCancelJob(jobId);
  const retry = useRetryJob(jobId);
  return (
    <div className="row">
      {!isTerminal(status) && (
        <button type="button" className="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
          {cancel.isPending ? "Cancelling…" : "Cancel"}
        </button>
      )}
      {isTerminal(status) && status !== "completed" && (
        <button type="button" onClick={() => retry.mutate()} disabled={retry.isPending}>
          Retry
        </button>
      )}
      {cancel.isError && <ErrorNote error={cancel.error} />}
      {retry.isError && <ErrorNote error={retry.error} />}
    </div>
  );
}
