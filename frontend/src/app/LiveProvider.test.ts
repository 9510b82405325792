import { QueryClient } from "@tanstack/react-query";
import { hostsKey } from "../features/fleet/api/get-hosts";
import { jobsKeys } from "../features/jobs/api/get-jobs";
import { statsKeys } from "../features/stats/api/get-stats";
import { jobStatusKey, type JobView } from "../lib/api/get-job-status";
import { jobTypesKey } from "../lib/api/get-job-types";
import { lockKey, type GpuLock } from "../lib/api/get-lock";
import { modelsKey } from "../lib/api/get-models";
import { settingsKey } from "../lib/api/get-settings";
import { TextStore } from "../lib/text-store";
import { JOB_TYPES } from "../testing/job-types";
import { jobStatus } from "../testing/test-utils";
import { handleJobProgress, handleJobUpdate, handleLockUpdate } from "./LiveProvider";

const running = jobStatus({ job_type: "generate", progress: { percent: 0 } });

describe("socket events into the query cache", () => {
  test("progress merges into the job and its text is assembled in order", () => {
    const client = new QueryClient();
    const texts = new TextStore();
    client.setQueryData(jobStatusKey("j1"), running);
    handleJobProgress(client, texts, { job_id: "j1", text: "Hello", offset: 0, percent: 10, message: "section 1 of 2" });
    handleJobProgress(client, texts, { job_id: "j1", text: " world", offset: 5, percent: 20 });
    expect(texts.get("j1")).toBe("Hello world");
    const job = client.getQueryData<JobView>(jobStatusKey("j1"));
    expect(job?.progress).toEqual({ percent: 20, message: "section 1 of 2" });
  });

  test("a missed chunk makes the job's status be fetched again", () => {
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    handleJobProgress(client, new TextStore(), { job_id: "j1", text: "late", offset: 50 });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: jobStatusKey("j1") });
  });

  test("a status update replaces the job and refreshes the lists", () => {
    const client = new QueryClient();
    const texts = new TextStore();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    const done = { ...running, status: "completed" as const, progress: { percent: 100, text: "All done" } };
    handleJobUpdate(client, texts, done);
    expect(client.getQueryData(jobStatusKey("j1"))).toEqual(done);
    expect(texts.get("j1")).toBe("All done");
    expect(invalidate).toHaveBeenCalledWith({ queryKey: jobsKeys.all });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: statsKeys.all });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: hostsKey() });
    expect(invalidate).not.toHaveBeenCalledWith({ queryKey: modelsKey() });
  });

  test("a status fetch begun before an update does not overwrite it when it answers later", async () => {
    // Cancel a running job: the page refetches its status (the worker has not stopped it yet, so the
    // answer will say "running"), then the socket says "cancelled", then the slow answer arrives.
    const client = new QueryClient();
    let answer: (job: JobView) => void = () => undefined;
    const fetching = client.fetchQuery({
      queryKey: jobStatusKey("j1"),
      queryFn: () => new Promise<JobView>((resolve) => (answer = resolve)),
    });
    const cancelled = { ...running, status: "cancelled" as const };
    handleJobUpdate(client, new TextStore(), cancelled);
    answer(running);
    await fetching.catch(() => undefined);
    expect(client.getQueryData<JobView>(jobStatusKey("j1"))?.status).toBe("cancelled");
  });

  test("a completed training (by its result kind, from the API's job types) refreshes the active model and models", () => {
    const client = new QueryClient();
    client.setQueryData(jobTypesKey(), { job_types: JOB_TYPES });
    const invalidate = vi.spyOn(client, "invalidateQueries");
    handleJobUpdate(client, new TextStore(), { ...running, job_type: "training", status: "completed" });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: settingsKey() });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: modelsKey() });
  });

  test("a lock fetch begun before a lock update does not overwrite it when it answers later", async () => {
    const client = new QueryClient();
    const held: GpuLock = { locked: true, capacity: 1, queue_length: 1, holders: [] };
    const free: GpuLock = { locked: false, capacity: 1, queue_length: 0, holders: [] };
    let answer: (lock: GpuLock) => void = () => undefined;
    const fetching = client.fetchQuery({ queryKey: lockKey(), queryFn: () => new Promise<GpuLock>((resolve) => (answer = resolve)) });
    handleLockUpdate(client, free);
    answer(held);
    await fetching.catch(() => undefined);
    expect(client.getQueryData(lockKey())).toEqual(free);
  });

  test("a lock update replaces the lock and makes the GPU hosts be fetched again", () => {
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    const lock: GpuLock = { locked: false, capacity: 1, queue_length: 0, holders: [] };
    handleLockUpdate(client, lock);
    expect(client.getQueryData(lockKey())).toEqual(lock);
    expect(invalidate).toHaveBeenCalledWith({ queryKey: hostsKey() });
  });
});
