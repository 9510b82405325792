import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { JobStatus } from "../api/client";
import { renderWith } from "../test-utils";
import { JobView } from "./JobView";

function status(overrides: Partial<JobStatus>): JobStatus {
  return {
    job_id: "j1",
    job_type: "report",
    status: "running",
    progress: { percent: 50, message: "section 2 of 4: Findings", text: "## Summary\nAll calm" },
    position: null,
    eta_seconds: null,
    waiting_for: [],
    retry_count: 0,
    max_retries: 3,
    attempt: 1,
    error_message: null,
    error_kind: null,
    details: "Case: ACME Breach (ID: 5)",
    username: "alice",
    created_at: "2026-11-23T10:00:00Z",
    started_at: "2026-11-23T10:00:01Z",
    finished_at: null,
    ...overrides,
  } as JobStatus;
}

describe("JobView", () => {
  test("a running job shows its progress and text, and can be cancelled", async () => {
    const cancel = vi.fn(async () => ({ job_id: "j1", status: "cancelling", message: "" }));
    renderWith(<JobView jobId="j1" />, { status: async () => status({}), cancel });
    expect(await screen.findByTestId("job-text")).toHaveTextContent("All calm");
    expect(screen.getByText(/50% · section 2 of 4: Findings/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    await waitFor(() => expect(cancel).toHaveBeenCalledOnce());
  });

  test("a finished report is rendered as Markdown", async () => {
    const result = vi.fn(async () => ({
      job_id: "j1",
      status: "completed",
      result: { markdown: "# ACME Breach\n\n## Summary\n\nAll **calm**." },
      error_message: null,
    }));
    renderWith(<JobView jobId="j1" />, { status: async () => status({ status: "completed" }), result });
    expect(await screen.findByRole("heading", { level: 1, name: "ACME Breach" })).toBeInTheDocument();
    expect(screen.getByRole("heading", { level: 2, name: "Summary" })).toBeInTheDocument();
    expect(screen.getByText("calm").tagName).toBe("STRONG");
  });

  test("a canvas result is drawn, a failed job offers a retry", async () => {
    const nodes = [
      { id: "a", label: "Detect", position: { x: 0, y: 0 } },
      { id: "b", label: "Contain", position: { x: 200, y: 0 } },
    ];
    const canvas = renderWith(<JobView jobId="c1" />, {
      status: async () => status({ job_id: "c1", job_type: "canvas", status: "completed" }),
      result: async () => ({ job_id: "c1", status: "completed", result: { nodes, edges: [{ source: "a", target: "b", label: "then" }] }, error_message: null }),
    });
    const diagram = await screen.findByTestId("canvas-diagram");
    expect(diagram.querySelectorAll("[data-node]")).toHaveLength(2);
    expect(diagram).toHaveTextContent("then");
    canvas.unmount();

    const retry = vi.fn(async () => ({ job_id: "f1", status: "queued", message: "" }));
    renderWith(<JobView jobId="f1" />, {
      status: async () => status({ job_id: "f1", status: "failed", error_message: "Ollama is unreachable" }),
      retry,
    });
    expect(await screen.findByRole("alert")).toHaveTextContent("Ollama is unreachable");
    await userEvent.click(screen.getByRole("button", { name: "Retry" }));
    await waitFor(() => expect(retry).toHaveBeenCalledOnce());
  });
});
