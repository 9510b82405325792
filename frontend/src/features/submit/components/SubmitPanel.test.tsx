import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { jobStatusKey } from "../../../lib/api/get-job-status";
import { jobStatus, renderWith } from "../../../testing/test-utils";
import { JOB_TYPES } from "../../../testing/job-types";
import { SubmitPanel } from "./SubmitPanel";

const accepted = { job_id: "p1", status: "queued", message: "Job queued", position: 0, eta_seconds: null };
const models = () => ({ models: [], count: 0 });
const settings = () => ({ active_model: "tinyllama" });

describe("SubmitPanel", () => {
  test("the note under the button follows the job: queued, then running, then its end", async () => {
    const submitted = vi.fn();
    const queued = jobStatus({ job_id: "p1", job_type: "generate", status: "queued", position: 0, eta_seconds: null, progress: {} });
    const { client } = renderWith(<SubmitPanel onSubmitted={submitted} />, {
      "GET /api/v1/models/list": models,
      "GET /api/ai-agent/settings": settings,
      "POST /api/ai-agent/jobs": () => accepted,
      "GET /api/ai-agent/job/p1/status": () => queued,
    });
    await userEvent.type(screen.getByLabelText("Prompt", { exact: true }), "Why is the sky blue?");
    await userEvent.click(screen.getByRole("button", { name: "Run" }));
    expect(await screen.findByTestId("accepted")).toHaveTextContent("Queued — position 1, no estimate yet.");
    expect(submitted).toHaveBeenCalledWith(accepted);
    await waitFor(() => expect(client.getQueryState(jobStatusKey("p1"))?.status).toBe("success"));

    // What a `job:update` from the socket does: the note moves on with the job.
    act(() => client.setQueryData(jobStatusKey("p1"), { ...queued, status: "running", position: null, progress: { percent: 0, tokens: 12 } }));
    await waitFor(() => expect(screen.getByTestId("accepted")).toHaveTextContent("Running — 12 tokens."));
    expect(screen.getByTestId("accepted")).not.toHaveTextContent("Queued");
    act(() =>
      client.setQueryData(jobStatusKey("p1"), {
        ...queued,
        status: "completed",
        position: null,
        started_at: "2026-11-23T10:00:01Z",
        finished_at: "2026-11-23T10:00:03Z",
      }),
    );
    await waitFor(() => expect(screen.getByTestId("accepted")).toHaveTextContent("Completed in 2.0 s."));
  });

  test("a submittable type without a form of its own gets the generic JSON form", async () => {
    const submit = vi.fn((_body: unknown) => ({ ...accepted, job_id: "e1" }));
    const training = { id: "training", label: "Train AI", covers: ["training"], form: () => <p>The training form</p> };
    renderWith(<SubmitPanel onSubmitted={vi.fn()} moreForms={[training]} />, {
      // The server offers embed on the form here (it does not by default): a type with no form of its own.
      "GET /api/ai-agent/job-types": () => ({
        job_types: JOB_TYPES.map((type) => (type.job_type === "embed" ? { ...type, submittable: true } : type)),
      }),
      "GET /api/v1/models/list": models,
      "GET /api/ai-agent/settings": settings,
      "POST /api/ai-agent/jobs": (_query, body) => submit(body),
      "GET /api/ai-agent/job/e1/status": () => jobStatus({ job_id: "e1", job_type: "embed", status: "queued", position: 0, progress: {} }),
    });
    await userEvent.click(await screen.findByRole("tab", { name: "Embeddings" }));
    // The hand-made forms' types get no second tab; the others come from the API's list.
    const tabs = screen.getAllByRole("tab").map((tab) => tab.textContent);
    expect(tabs).toEqual(["Prompt", "Canvas", "Report", "Train AI", "Embeddings"]);
    expect(screen.getByText(JOB_TYPES.find((type) => type.job_type === "embed")!.description)).toBeInTheDocument();

    const request = screen.getByLabelText("Request (JSON)");
    await userEvent.clear(request);
    await userEvent.paste("[1, 2]");
    await userEvent.click(screen.getByRole("button", { name: "Queue the job" }));
    expect(screen.getByRole("alert")).toHaveTextContent("The request must be a JSON object");
    expect(submit).not.toHaveBeenCalled();

    await userEvent.clear(request);
    await userEvent.paste('{"model": "all-minilm", "input": ["hello"]}');
    await userEvent.click(screen.getByRole("button", { name: "Queue the job" }));
    await waitFor(() => expect(submit).toHaveBeenCalledWith({ job_type: "embed", request: { model: "all-minilm", input: ["hello"] } }));
    expect(await screen.findByTestId("accepted")).toHaveTextContent("Queued — position 1");
  });
});
