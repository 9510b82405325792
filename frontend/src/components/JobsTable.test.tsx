import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { JobStatus } from "../api/client";
import { renderWith } from "../test-utils";
import { JobsTable } from "./JobsTable";

const job = (n: number, status = "completed"): JobStatus =>
  ({
    job_id: `j${n}`,
    job_type: "report",
    status,
    progress: { percent: status === "completed" ? 100 : 40 },
    details: `Case ${n}`,
    username: "alice",
    created_at: "2026-11-23T10:00:00Z",
  }) as unknown as JobStatus;

describe("JobsTable", () => {
  test("pages through older jobs and filters by status", async () => {
    const jobs = vi.fn(async (filters: { cursor?: string; status?: string }) =>
      filters.status === "failed"
        ? { jobs: [], next_cursor: null }
        : filters.cursor
          ? { jobs: [job(3)], next_cursor: null }
          : { jobs: [job(1), job(2, "running")], next_cursor: "c1" },
    );
    const opened = vi.fn();
    renderWith(<JobsTable onOpen={opened} />, { jobs });
    expect(await screen.findByText("Report · Case 1")).toBeInTheDocument();
    expect(screen.getByText("40%")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Show older jobs" }));
    expect(await screen.findByText("Report · Case 3")).toBeInTheDocument();
    expect(jobs).toHaveBeenLastCalledWith({ cursor: "c1", status: undefined, type: undefined, all: false });
    expect(screen.queryByRole("button", { name: "Show older jobs" })).not.toBeInTheDocument();
    await userEvent.click(screen.getByText("Report · Case 3"));
    expect(opened).toHaveBeenCalledWith("j3");
    await userEvent.selectOptions(screen.getByLabelText("Status"), "failed");
    expect(await screen.findByText("No job matches these filters.")).toBeInTheDocument();
  });
});
