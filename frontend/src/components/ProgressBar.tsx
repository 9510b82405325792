import type { ReactNode } from "react";

/** A native progress bar with its caption on top. `percent` null: indeterminate (a band sweeps across),
 *  for work that moves but cannot say how far it is. */
export function ProgressBar({ percent, label, children }: { percent: number | null; label: string; children: ReactNode }) {
  return (
    <div className="progress">
      <progress
        aria-label={label}
        max={100}
        value={percent ?? undefined}
        data-testid="progress-bar"
        data-percent={percent ?? undefined}
      />
      <span className="progress-text">{children}</span>
    </div>
  );
}
