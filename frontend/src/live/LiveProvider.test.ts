import { QueryClient } from "@tanstack/react-query";
import type { JobStatus } from "../api/client";
import { handleJobProgress, handleJobUpdate } from "./LiveProvider";
import { TextStore } from "./text";

const running = { job_id: "j1", job_type: "generate", status: "running", progress: { percent: 0 } } as unknown as JobStatus;

describe("socket events into the query cache", () => {
  test("progress merges into the job and its text is assembled in order", () => {
    const client = new QueryClient();
    const texts = new TextStore();
    client.setQueryData(["job", "j1"], running);
    handleJobProgress(client, texts, { job_id: "j1", text: "Hello", offset: 0, percent: 10, message: "section 1 of 2" });
    handleJobProgress(client, texts, { job_id: "j1", text: " world", offset: 5, percent: 20 });
    expect(texts.get("j1")).toBe("Hello world");
    const job = client.getQueryData<JobStatus>(["job", "j1"]);
    expect(job?.progress).toEqual({ percent: 20, message: "section 1 of 2" });
  });

  test("a missed chunk makes the job's status be fetched again", () => {
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    handleJobProgress(client, new TextStore(), { job_id: "j1", text: "late", offset: 50 });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ["job", "j1"] });
  });

  test("a status update replaces the job and refreshes the lists", () => {
    const client = new QueryClient();
    const texts = new TextStore();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    const done = { ...running, status: "completed", progress: { percent: 100, text: "All done" } } as unknown as JobStatus;
    handleJobUpdate(client, texts, done);
    expect(client.getQueryData(["job", "j1"])).toEqual(done);
    expect(texts.get("j1")).toBe("All done");
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ["jobs"] });
  });
});
