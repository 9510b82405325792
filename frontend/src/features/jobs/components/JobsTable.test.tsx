import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { jobStatus, renderWith } from "../../../testing/test-utils";
import type { JobState } from "../../../lib/job-states";
import { JobsTable } from "./JobsTable";

const job = (n: number, status: JobState = "completed", progress: Record<string, unknown> = { percent: status === "completed" ? 100 : 40 }) =>
  jobStatus({ job_id: `j${n}`, status, progress, details: `Case ${n}` });

describe("JobsTable", () => {
  test("pages through older jobs and filters by status", async () => {
    const jobs = vi.fn((query: Record<string, string>) =>
      query.status === "failed"
        ? { jobs: [], next_cursor: null }
        : query.cursor
          ? { jobs: [job(3)], next_cursor: null }
          : { jobs: [job(1), job(2, "running")], next_cursor: "c1" },
    );
    const opened = vi.fn();
    renderWith(<JobsTable onOpen={opened} />, { "GET /api/ai-agent/jobs": jobs });
    expect(await screen.findByText("Report · Case 1")).toBeInTheDocument();
    expect(screen.getByText("40%")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Show older jobs" }));
    expect(await screen.findByText("Report · Case 3")).toBeInTheDocument();
    expect(jobs).toHaveBeenLastCalledWith({ limit: "50", cursor: "c1" }, undefined);
    expect(screen.queryByRole("button", { name: "Show older jobs" })).not.toBeInTheDocument();
    await userEvent.click(screen.getByText("Report · Case 3"));
    expect(opened).toHaveBeenCalledWith("j3");
    await userEvent.selectOptions(screen.getByLabelText("Status"), "failed");
    expect(await screen.findByText("No job matches these filters.")).toBeInTheDocument();
  });

  test("types and their names come from the API; a running job without a percent shows its tokens", async () => {
    const jobs = vi.fn((query: Record<string, string>) => ({
      jobs:
        query.type === "embed"
          ? []
          : [
              jobStatus({ job_id: "g1", job_type: "generate", details: null, progress: { percent: 0, tokens: 120 } }),
              jobStatus({ job_id: "x1", job_type: "lab.experiment", details: null, progress: {} }),
            ],
      next_cursor: null,
    }));
    renderWith(<JobsTable onOpen={vi.fn()} />, { "GET /api/ai-agent/jobs": jobs });
    expect(await screen.findByRole("button", { name: "Text generation" })).toBeInTheDocument();
    expect(screen.getByText("120 tokens")).toBeInTheDocument();
    expect(screen.queryByText("0%")).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "lab.experiment" })).toBeInTheDocument(); // a type the API did not describe
    expect(screen.getByText("working…")).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByLabelText("Type"), "Embeddings");
    expect(jobs).toHaveBeenLastCalledWith({ limit: "50", type: "embed" }, undefined);
  });
});
