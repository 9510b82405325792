// A job's `progress` object (free-form: each job type reports what it knows) read the same way by the
// job view, the jobs table and the lock banner.

/** The progress fields the page shows; handlers may report others. */
export interface Progress {
  percent?: number | null;
  message?: string;
  text?: string;
  tokens?: number;
  log_tail?: string[];
}

export function readProgress(raw: Record<string, unknown> | undefined): Progress {
  return (raw ?? {}) as Progress;
}

/** How far the job is in percent, or null when that is not known (a running job's bar is then
 *  indeterminate). 0% says nothing: text generation never reports a percent beyond its initial 0, and a
 *  report is at 0% all through its first section. */
export function percentDone(status: string, progress: Progress): number | null {
  if (status === "completed") return 100;
  const { percent } = progress;
  if (typeof percent !== "number" || !Number.isFinite(percent) || percent <= 0) return null;
  return Math.round(Math.min(100, percent));
}

export function tokensText(tokens: number | undefined): string | null {
  return typeof tokens === "number" && tokens > 0 ? `${tokens} token${tokens === 1 ? "" : "s"}` : null;
}

/** "40%", else "120 tokens", else null: the short form for a table cell or the lock banner. */
export function progressSummary(status: string, progress: Progress): string | null {
  const percent = percentDone(status, progress);
  if (percent !== null) return `${percent}%`;
  return status === "running" ? tokensText(progress.tokens) : null;
}
