import { useEffect, useState } from "react";
import { useLock } from "../api/hooks";
import { describeHolder } from "../format";
import type { JobStatus } from "../api/client";

/** Always visible: who holds the GPU, doing what, since when; the queue; where your next job stands. */
export function LockBanner({ mine }: { mine?: JobStatus }) {
  const lock = useLock();
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 5000); // keep "n minutes ago" current
    return () => clearInterval(timer);
  }, []);

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
          {typeof holder.progress?.percent === "number" ? ` (${Math.round(holder.progress.percent as number)}%)` : ""}
        </span>
      ))}
      <span className="banner-meta">
        {capacity > 1 ? `${holders.length}/${capacity} slots · ` : ""}
        {queued === 0 ? "nothing queued" : `${queued} queued`}
        {mine && mine.status === "queued" && mine.position !== null && mine.position !== undefined && (
          <span data-testid="my-position">
            {" · your job: position "}
            {mine.position + 1}
            {mine.eta_seconds ? `, starts in ~${Math.round(mine.eta_seconds)} s` : ""}
          </span>
        )}
      </span>
    </div>
  );
}
