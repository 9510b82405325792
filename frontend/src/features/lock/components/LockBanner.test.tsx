import { screen } from "@testing-library/react";
import type { GpuLock } from "../../../lib/api/get-lock";
import { jobStatus, renderWith } from "../../../testing/test-utils";
import { LockBanner } from "./LockBanner";

const LOCK = "GET /api/ai-agent/lock";
const holder = {
  key: "gpu/0",
  operation: "AI Report Generation",
  details: "Case: ACME Breach (ID: 5)",
  username: "jdube",
  user_id: "jdube",
  job_id: "j1",
  task_ref: "job:j1",
  started_at: new Date(Date.now() - 5 * 60_000 - 2000).toISOString(),
  expires_at: new Date(Date.now() + 30_000).toISOString(),
  elapsed_seconds: 302,
  progress: { percent: 40 },
};
const busy: GpuLock = { locked: true, capacity: 1, queue_length: 2, holders: [holder] };
const free: GpuLock = { ...busy, locked: false, holders: [], queue_length: 0 };

describe("LockBanner", () => {
  test("names the holder, what, since when, and the queue", async () => {
    renderWith(<LockBanner />, { [LOCK]: () => busy });
    expect(await screen.findByText(/GPU in use/)).toBeInTheDocument();
    expect(screen.getByTestId("lock-banner")).toHaveTextContent(
      "AI Report Generation · Case: ACME Breach (ID: 5) · started by jdube · 5 minutes ago (40%)",
    );
    expect(screen.getByTestId("lock-banner")).toHaveTextContent("2 queued");
  });

  test("a holder generating without a percent shows its tokens, not (0%)", async () => {
    renderWith(<LockBanner />, { [LOCK]: () => ({ ...busy, holders: [{ ...holder, progress: { percent: 0, tokens: 87 } }] }) });
    expect(await screen.findByTestId("lock-banner")).toHaveTextContent("5 minutes ago (87 tokens)");
    expect(screen.getByTestId("lock-banner")).not.toHaveTextContent("0%");
  });

  test("says the GPU is free, and where my queued job stands", async () => {
    const mine = jobStatus({ status: "queued", position: 1, eta_seconds: 42, progress: {} });
    renderWith(<LockBanner myJobId="j1" />, { [LOCK]: () => free, "GET /api/ai-agent/job/j1/status": () => mine });
    expect(await screen.findByText("GPU free")).toBeInTheDocument();
    expect(await screen.findByTestId("my-position")).toHaveTextContent("your job: position 2, starts in ~42 s");
  });

  test("a queued job without an estimate says so, not ~0 s", async () => {
    const mine = jobStatus({ status: "queued", position: 0, eta_seconds: null, progress: {} });
    renderWith(<LockBanner myJobId="j1" />, { [LOCK]: () => busy, "GET /api/ai-agent/job/j1/status": () => mine });
    expect(await screen.findByTestId("my-position")).toHaveTextContent("your job: position 1, no estimate yet");
  });

  test("an API failure is shown, not hidden", async () => {
    renderWith(<LockBanner />, { [LOCK]: () => Promise.reject(new Error("Cannot reach the aijobs server.")) });
    expect(await screen.findByText(/Cannot read the GPU lock: Cannot reach the aijobs server./)).toBeInTheDocument();
  });
});
