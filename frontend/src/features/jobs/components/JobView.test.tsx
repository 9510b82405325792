import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { jobStatus as status, renderWith } from "../../../testing/test-utils";
import { JobView } from "./JobView";

const STATUS = "GET /api/ai-agent/job/j1/status";
const RESULT = "GET /api/ai-agent/job/j1/result";

describe("JobView", () => {
  test("a running job shows its progress and text, and can be cancelled", async () => {
    const cancel = vi.fn(() => ({ job_id: "j1", status: "cancelling", message: "" }));
    renderWith(<JobView jobId="j1" />, { [STATUS]: () => status(), "POST /api/ai-agent/job/j1/cancel": cancel });
    expect(await screen.findByTestId("job-text")).toHaveTextContent("All calm");
    expect(screen.getByText(/50% · section 2 of 4: Findings/)).toBeInTheDocument();
    expect(screen.getByRole("progressbar", { name: "Job progress" })).toHaveAttribute("value", "50");
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    await waitFor(() => expect(cancel).toHaveBeenCalledOnce());
  });

  test("a running report's text is rendered as Markdown while it streams", async () => {
    renderWith(<JobView jobId="j1" />, { [STATUS]: () => status() });
    expect(await screen.findByRole("heading", { level: 2, name: "Summary" })).toBeInTheDocument();
    expect(screen.getByTestId("job-text")).not.toHaveTextContent("##");
    expect(screen.getByTestId("job-text").tagName).not.toBe("PRE");
  });

  test("a running job without a percent has an indeterminate bar and counts its tokens", async () => {
    const progress = { percent: 0, tokens: 120, message: "generating", text: "Once upon" };
    renderWith(<JobView jobId="j1" />, { [STATUS]: () => status({ job_type: "generate", details: null, progress }) });
    const bar = await screen.findByRole("progressbar", { name: "Job progress" });
    expect(bar).not.toHaveAttribute("value");
    expect(bar).not.toHaveAttribute("data-percent");
    expect(screen.getByText("generating · 120 tokens")).toBeInTheDocument();
    expect(screen.queryByText(/0%/)).not.toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Text generation" })).toBeInTheDocument(); // the API's label
    expect(screen.getByTestId("job-text").tagName).toBe("PRE");
  });

  test("a queued job says when it should start only when the server has an estimate", async () => {
    const queued = { status: "queued" as const, position: 1, started_at: null, progress: {} };
    const view = renderWith(<JobView jobId="j1" />, { [STATUS]: () => status({ ...queued, eta_seconds: null }) });
    expect(await screen.findByTestId("job-place")).toHaveTextContent("position 2 · no estimate yet");
    expect(screen.queryByRole("progressbar")).not.toBeInTheDocument();
    view.unmount();

    renderWith(<JobView jobId="j1" />, { [STATUS]: () => status({ ...queued, eta_seconds: 42 }) });
    expect(await screen.findByTestId("job-place")).toHaveTextContent("position 2 · starts in ~42 s");
  });

  test("a finished report is rendered as Markdown", async () => {
    const result = vi.fn(() => ({
      job_id: "j1",
      status: "completed",
      result: { markdown: "# ACME Breach\n\n## Summary\n\nAll **calm**." },
      error_message: null,
    }));
    renderWith(<JobView jobId="j1" />, { [STATUS]: () => status({ status: "completed" }), [RESULT]: result });
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
      "GET /api/ai-agent/job/c1/status": () => status({ job_id: "c1", job_type: "canvas", status: "completed" }),
      "GET /api/ai-agent/job/c1/result": () => ({
        job_id: "c1",
        status: "completed",
        result: { nodes, edges: [{ source: "a", target: "b", label: "then" }] },
        error_message: null,
      }),
    });
    const diagram = await screen.findByTestId("canvas-diagram");
    expect(diagram.querySelectorAll("[data-node]")).toHaveLength(2);
    expect(diagram).toHaveTextContent("then");
    canvas.unmount();

    const retry = vi.fn(() => ({ job_id: "f1", status: "queued", message: "" }));
    renderWith(<JobView jobId="f1" />, {
      "GET /api/ai-agent/job/f1/status": () => status({ job_id: "f1", status: "failed", error_message: "Ollama is unreachable" }),
      "POST /api/ai-agent/job/f1/retry": retry,
    });
    expect(await screen.findByRole("alert")).toHaveTextContent("Ollama is unreachable");
    await userEvent.click(screen.getByRole("button", { name: "Retry" }));
    await waitFor(() => expect(retry).toHaveBeenCalledOnce());
  });

  test("a type the API does not describe shows its name and its result as JSON", async () => {
    renderWith(<JobView jobId="j1" />, {
      [STATUS]: () => status({ job_type: "lab.experiment", status: "completed", details: null, progress: {} }),
      [RESULT]: () => ({ job_id: "j1", status: "completed", result: { score: 0.93 }, error_message: null }),
    });
    expect(await screen.findByRole("heading", { name: "lab.experiment" })).toBeInTheDocument();
    expect(await screen.findByTestId("job-result")).toHaveTextContent('"score": 0.93');
  });
});
