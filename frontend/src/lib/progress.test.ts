import { percentDone, progressSummary } from "./progress";

describe("progress", () => {
  test("a running job without a percent, or at 0%, has no known percent: the bar is indeterminate", () => {
    expect(percentDone("running", {})).toBeNull();
    expect(percentDone("running", { percent: null })).toBeNull();
    expect(percentDone("running", { percent: 0, tokens: 12 })).toBeNull();
    expect(percentDone("running", { percent: 42.4 })).toBe(42);
    expect(percentDone("completed", {})).toBe(100);
  });

  test("the short form: the percent when known, else the tokens of a running job", () => {
    expect(progressSummary("running", { percent: 40 })).toBe("40%");
    expect(progressSummary("running", { percent: 0, tokens: 120 })).toBe("120 tokens");
    expect(progressSummary("running", { tokens: 1 })).toBe("1 token");
    expect(progressSummary("running", {})).toBeNull();
    expect(progressSummary("queued", {})).toBeNull();
    expect(progressSummary("failed", { percent: 40 })).toBe("40%");
    expect(progressSummary("cancelled", { percent: 0 })).toBeNull(); // the table says "—", not "0%"
  });
});
