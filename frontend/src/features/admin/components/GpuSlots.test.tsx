import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { GpuLock } from "../../../lib/api/get-lock";
import { renderWith } from "../../../testing/test-utils";
import { GpuSlots } from "./GpuSlots";

const held: GpuLock = {
  locked: false,
  capacity: 2,
  queue_length: 0,
  holders: [
    {
      key: "gpu/0",
      operation: "AI Report Generation",
      details: "Case: ACME Breach (ID: 5)",
      username: "alice",
      user_id: "u-alice",
      job_id: "j1",
      task_ref: "job:j1",
      started_at: new Date(Date.now() - 42_000).toISOString(),
      expires_at: new Date(Date.now() + 30_000).toISOString(),
      elapsed_seconds: 42,
      progress: { percent: 0, tokens: 87 },
    },
  ],
};
const free: GpuLock = { ...held, holders: [] };

describe("GpuSlots", () => {
  afterEach(() => vi.restoreAllMocks());

  test("shows who holds each slot; a confirmed force release frees it and says whose job was cancelled", async () => {
    let lock = held;
    const release = vi.fn(() => {
      lock = free;
      return [{ key: "gpu/0", released_from: "alice", operation: "AI Report Generation", cancelled_job: "j1" }];
    });
    const confirm = vi.spyOn(window, "confirm").mockReturnValue(true);
    renderWith(<GpuSlots />, { "GET /api/ai-agent/lock": () => lock, "POST /api/ai-agent/lock/force-release": release });

    const row = (await screen.findByText("gpu/0")).closest("tr")!;
    expect(row).toHaveTextContent("alice");
    expect(row).toHaveTextContent("AI Report Generation · Case: ACME Breach (ID: 5)");
    expect(row).toHaveTextContent("87 tokens");
    expect(screen.getByText("gpu/1").closest("tr")).toHaveTextContent("free");

    await userEvent.click(within(row).getByRole("button", { name: "Force release gpu/0" }));
    expect(confirm).toHaveBeenCalledWith("Force release gpu/0? alice's AI Report Generation is cancelled.");
    await waitFor(() => expect(release).toHaveBeenCalledWith({ slot: "0" }, undefined));
    expect(await screen.findByRole("status")).toHaveTextContent(
      "Released gpu/0 from alice; its job (AI Report Generation) is cancelled.",
    );
    await waitFor(() => expect(screen.queryByRole("button", { name: /Force release/ })).not.toBeInTheDocument());
  });

  test("nothing is released unless the admin confirms", async () => {
    const release = vi.fn(() => []);
    vi.spyOn(window, "confirm").mockReturnValue(false);
    renderWith(<GpuSlots />, { "GET /api/ai-agent/lock": () => held, "POST /api/ai-agent/lock/force-release": release });
    await userEvent.click(await screen.findByRole("button", { name: "Force release gpu/0" }));
    expect(release).not.toHaveBeenCalled();
  });
});
