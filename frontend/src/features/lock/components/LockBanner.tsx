import { StartsIn } from "../../../components/StartsIn";
import { useNow } from "../../../hooks/use-now";
import { useJobStatus } from "../../../lib/api/get-job-status";
import { useLock, type LockHolder } from "../../../lib/api/get-lock";
import { describeHolder } from "../../../lib/format";
import { progressSummary, readProgress } from "../../../lib/progress";

/** Always visible: who holds the GPU, doing what, since when; the queue; where your open job stands. */
export function LockBanner({ myJobId }: { myJobId?: string | null }) {
  const lock = useLock();
  const now = useNow(5000); // keeps "n minutes ago" current
  if (lock.isPending) return <div className="banner">Checking the GPU…</div>;
  if (lock.isError) return <div className="banner banner-error">Cannot read the GPU lock: {lock.error.message}</div>;
  const { holders, queue_length: queued, capacity } = lock.data;
  const busy = holders.length > 0;
  return (
    <div className={`banner ${busy ? "banner-busy" : "banner-free"}`} role="status" aria-live="polite" data-testid="lock-banner">
      <strong>{busy ? "GPU in use" : "GPU free"}</strong>
      {holders.map((holder) => (
        <span key={holder.key} className="holder">
          {" — "}
          {describeHolder(holder, now)}
          {holderProgress(holder)}
        </span>
      ))}
      <span className="banner-meta">
        {capacity > 1 ? `${holders.length}/${capacity} slots · ` : ""}
        {queued === 0 ? "nothing queued" : `${queued} queued`}
        {myJobId && <MyPlace jobId={myJobId} />}
      </span>
    </div>
  );
}

/** " (40%)" or " (120 tokens)": never "(0%)" for a holder that is generating. */
function holderProgress(holder: LockHolder): string {
  const summary = progressSummary("running", readProgress(holder.progress));
  return summary ? ` (${summary})` : "";
}

/** The open job's place while it is queued, from the same query the job view reads. */
function MyPlace({ jobId }: { jobId: string }) {
  const job = useJobStatus(jobId);
  const mine = job.data;
  if (mine?.status !== "queued" || typeof mine.position !== "number") return null;
  return (
    <span data-testid="my-position">
      {" · your job: position "}
      {mine.position + 1}, <StartsIn eta={mine.eta_seconds} since={job.dataUpdatedAt} />
    </span>
  );
}
