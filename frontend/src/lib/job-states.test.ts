import { isTerminal, JOB_STATES, TERMINAL } from "./job-states";

describe("job states", () => {
  test("every state once, in life order; the ended ones are terminal", () => {
    expect(JOB_STATES).toEqual(["queued", "running", "completed", "failed", "cancelled"]);
    expect([...TERMINAL]).toEqual(["completed", "failed", "cancelled"]);
    expect(isTerminal("running")).toBe(false);
    expect(isTerminal(undefined)).toBe(false);
  });
});
