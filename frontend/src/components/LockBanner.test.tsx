import { screen } from "@testing-library/react";
import type { GpuLock, JobStatus } from "../api/client";
import { renderWith } from "../test-utils";
import { LockBanner } from "./LockBanner";

const busy: GpuLock = {
  locked: true,
  capacity: 1,
  queue_length: 2,
  holders: [
    {
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
    },
  ],
};

describe("LockBanner", () => {
  test("names the holder, what, since when, and the queue", async () => {
    renderWith(<LockBanner />, { lock: async () => busy });
    expect(await screen.findByText(/GPU in use/)).toBeInTheDocument();
    expect(screen.getByTestId("lock-banner")).toHaveTextContent(
      "AI Report Generation · Case: ACME Breach (ID: 5) · started by jdube · 5 minutes ago (40%)",
    );
    expect(screen.getByTestId("lock-banner")).toHaveTextContent("2 queued");
  });

  test("says the GPU is free, and where my queued job stands", async () => {
    const mine = { status: "queued", position: 1, eta_seconds: 42 } as JobStatus;
    renderWith(<LockBanner mine={mine} />, { lock: async () => ({ ...busy, locked: false, holders: [], queue_length: 0 }) });
    expect(await screen.findByText("GPU free")).toBeInTheDocument();
    expect(screen.getByTestId("my-position")).toHaveTextContent("your job: position 2, starts in ~42 s");
  });

  test("an API failure is shown, not hidden", async () => {
    renderWith(<LockBanner />, { lock: async () => Promise.reject(new Error("Cannot reach the aijobs server.")) });
    expect(await screen.findByText(/Cannot read the GPU lock: Cannot reach the aijobs server./)).toBeInTheDocument();
  });
});
