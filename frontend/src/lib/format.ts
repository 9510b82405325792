import type { LockHolder } from "./api/get-lock";

/** "5 minutes ago", as the server words it in the busy message. */
export function ago(seconds: number): string {
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${Math.floor(seconds)} seconds ago`;
  for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]] as const) {
    if (seconds >= size) {
      const count = Math.floor(seconds / size);
      return `${count} ${unit}${count === 1 ? "" : "s"} ago`;
    }
  }
  return "just now";
}

export function secondsSince(iso: string, now = Date.now()): number {
  return Math.max(0, (now - Date.parse(iso)) / 1000);
}

/** "AI Report Generation · Case: ACME Breach (ID: 5) · started by jdube · 5 minutes ago" */
export function describeHolder(holder: LockHolder, now = Date.now()): string {
  return [
    holder.operation ?? "Maintenance",
    holder.details,
    holder.username ? `started by ${holder.username}` : null,
    ago(secondsSince(holder.started_at, now)),
  ]
    .filter(Boolean)
    .join(" · ");
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  return `${Math.round(seconds / 60)} min`;
}

/** When a queued job should start: "starts in ~40 s", "starts in ~5 min", "starts any moment", or
 *  "no estimate yet" when the server has none (it has none until a job of the pool has completed). */
export function startsIn(etaSeconds: number | null | undefined): string {
  if (typeof etaSeconds !== "number" || !Number.isFinite(etaSeconds)) return "no estimate yet";
  if (etaSeconds <= 0) return "starts any moment";
  if (etaSeconds < 90) return `starts in ~${Math.max(1, Math.round(etaSeconds))} s`;
  return `starts in ~${Math.round(etaSeconds / 60)} min`;
}

/** "4.7 GB", "512 MB": memory in multiples of 1024, as GPUs are sold (a 24 GB card), one decimal under 10. */
export function bytes(count: number | null | undefined): string {
  if (typeof count !== "number" || !Number.isFinite(count)) return "—";
  const units = ["KB", "MB", "GB", "TB"];
  let value = count;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit < 0) return `${count} bytes`;
  return `${value < 9.95 ? Number(value.toFixed(1)) : Math.round(value)} ${units[unit]}`;
}
