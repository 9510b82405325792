import { StartsIn } from "../../../components/StartsIn";
import type { JobView } from "../../../lib/api/get-job-status";

/** Where a queued job stands (position, when it should start, what it waits for) and its retries. */
export function JobPlace({ job, since }: { job: JobView; since: number }) {
  const waitingFor = job.waiting_for ?? [];
  return (
    <>
      {job.status === "queued" && typeof job.position === "number" && (
        <span data-testid="job-place">
          position {job.position + 1} · <StartsIn eta={job.eta_seconds} since={since} />
        </span>
      )}
      {waitingFor.length > 0 && <span>waiting for {waitingFor.join(", ")}</span>}
      {job.retry_count > 0 && (
        <span>
          retry {job.retry_count} of {job.max_retries}
        </span>
      )}
    </>
  );
}
