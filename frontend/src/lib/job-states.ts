// A job's states, from the generated OpenAPI types (the server's JobStatus enum): one list for the page.
import type { Schemas } from "./api-client";

export type JobState = Schemas["JobStatus"];

// `satisfies Record<JobState, …>`: a state added to (or dropped from) the schema fails the build here.
const LIFE = { queued: "waiting", running: "working", completed: "ended", failed: "ended", cancelled: "ended" } as const satisfies Record<
  JobState,
  "waiting" | "working" | "ended"
>;

/** Every state, in the order a job lives them. */
export const JOB_STATES = Object.keys(LIFE) as JobState[];

/** States a job does not leave by itself (only a retry sends a failed or cancelled job back to the queue). */
export const TERMINAL: ReadonlySet<string> = new Set(JOB_STATES.filter((state) => LIFE[state] === "ended"));

export function isTerminal(status: string | undefined): boolean {
  return status !== undefined && TERMINAL.has(status);
}
