import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ApiError } from "../../../lib/api-client";
import { renderWith } from "../../../testing/test-utils";
import { hostsKey, type Fleet, type Host } from "../api/get-hosts";
import { FleetPanel } from "./FleetPanel";

const secondsAgo = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString();

function host(overrides: Partial<Host> = {}): Host {
  return {
    name: "box-a",
    base_url: null,
    slots: 2,
    gpu_memory: 25_769_803_776,
    labels: ["a100"],
    state: "up",
    reachable: true,
    draining: false,
    version: "0.12.3",
    probed_at: secondsAgo(3),
    loaded: [{ name: "llama3:latest", size: 5_000_000_000, expires_at: new Date(Date.now() + 240_000).toISOString() }],
    running: [
      {
        slot: 1,
        job_id: "j1",
        username: "alice",
        operation: "AI Text Generation",
        model: "llama3:latest",
        since: secondsAgo(42),
      },
    ],
    queued_warm: 3,
    costs: [
      {
        model: "llama3:latest",
        loads: 2,
        load_seconds: 6.1,
        run_seconds: 12,
        tokens_per_second: 40.2,
        jobs: 10,
        failures: 0,
        loading_seconds_total: 12.2,
        busy_seconds_total: 130,
      },
    ],
    ...overrides,
  };
}

const fleet: Fleet = {
  scheduler: "placement",
  max_bypass_seconds: 120,
  hosts: [
    host(),
    host({ name: "box-b", base_url: "http://10.0.0.6:11434", state: "down", reachable: false, labels: [], loaded: [], running: [], costs: [], queued_warm: 0, version: null }),
    host({ name: "box-c", state: "draining", draining: true, labels: [], running: [], costs: [], queued_warm: 0 }),
  ],
};

const card = (name: string) => screen.getAllByTestId("fleet-host").find((element) => element.dataset.host === name)!;

describe("FleetPanel", () => {
  afterEach(() => vi.restoreAllMocks());

  test("every host: its state in words, who runs what on each slot, loaded models with sizes, learned costs", async () => {
    renderWith(<FleetPanel />, { "GET /api/ai-agent/hosts": () => fleet });

    const panel = await screen.findByTestId("fleet-panel");
    expect(within(panel).getByRole("heading", { name: "GPU hosts" })).toBeInTheDocument();
    expect(panel).toHaveTextContent("3 hosts · 1 of 6 slots busy");
    expect(screen.getByTestId("fleet-scheduler")).toHaveTextContent(
      "Scheduler: placement — a job goes to a host that already has its model loaded when that is sooner than loading it; no job is passed over for more than 2 min.",
    );

    const a = card("box-a");
    expect(within(a).getByTestId("host-state")).toHaveTextContent("up");
    expect(a).toHaveTextContent("Ollama 0.12.3 · 24 GB GPU memory · checked just now");
    expect(within(a).getByText("a100")).toBeInTheDocument();
    expect(a).toHaveTextContent("1 of 2 slots busy");
    const slots = within(a).getAllByTestId("host-slot");
    expect(slots.map((slot) => slot.textContent)).toEqual([
      "gpu/box-a/0 free",
      "gpu/box-a/1 alice · AI Text Generation · llama3:latest · 42 seconds ago",
    ]);
    expect(a).toHaveTextContent("Loaded: 4.7 GB of 24 GB");
    expect(a).toHaveTextContent("llama3:latest 4.7 GB · unloads in 4 min");
    expect(a).toHaveTextContent("3 queued jobs use models loaded here.");
    const costs = within(a).getByRole("row", { name: /llama3/ });
    expect(costs).toHaveTextContent("llama3:latest6.1 s40 tokens/s12.0 s10");
    expect(a).toHaveTextContent("Loading models took 12.2 s of 2 min busy (9%).");

    const b = card("box-b");
    expect(within(b).getByTestId("host-state")).toHaveTextContent("down");
    expect(b).toHaveTextContent("unreachable: no job is placed here until it answers again");
    expect(b).toHaveTextContent("No model loaded.");
    expect(b).toHaveTextContent("http://10.0.0.6:11434 · 24 GB GPU memory"); // the address: admins only get one
    expect(within(card("box-c")).getByTestId("host-state")).toHaveTextContent("draining");
    expect(card("box-c")).toHaveTextContent("finishes what runs, takes no new job");

    expect(screen.queryByRole("button")).not.toBeInTheDocument(); // not an admin
  });

  test("one host named default is one line, opened on demand", async () => {
    const single: Fleet = { ...fleet, hosts: [host({ name: "default", slots: 1, running: [], labels: [], costs: [] })] };
    renderWith(<FleetPanel />, { "GET /api/ai-agent/hosts": () => single });

    const summary = await screen.findByTestId("fleet-summary");
    expect(summary).toHaveTextContent("GPU host default up 0 of 1 slot busy · llama3:latest loaded (4.7 GB) · Ollama 0.12.3");
    expect(screen.queryByTestId("fleet-host")).not.toBeInTheDocument();
    await userEvent.click(summary);
    expect(await screen.findByTestId("fleet-host")).toHaveTextContent("gpu/0 free");
  });

  test("an admin drains and resumes a host; a refused remove shows the server's reason", async () => {
    let current = fleet;
    const setDraining = (name: string, draining: boolean) => {
      current = {
        ...current,
        hosts: current.hosts.map((entry) => (entry.name === name ? { ...entry, draining, state: draining ? "draining" : "up" } : entry)),
      };
      return { name, draining };
    };
    const drain = vi.fn(() => setDraining("box-a", true));
    const resume = vi.fn(() => setDraining("box-c", false));
    const remove = vi.fn(() => {
      throw new ApiError(409, "conflict", "Host box-a still runs 1 job: drain it and wait for the job to finish.");
    });
    const confirm = vi.spyOn(window, "confirm").mockReturnValue(true);
    renderWith(<FleetPanel admin />, {
      "GET /api/ai-agent/hosts": () => current,
      "POST /api/ai-agent/hosts/box-a/drain": drain,
      "POST /api/ai-agent/hosts/box-c/resume": resume,
      "DELETE /api/ai-agent/hosts/box-a": remove,
    });

    await userEvent.click(await screen.findByRole("button", { name: "Drain box-a" }));
    await waitFor(() => expect(within(card("box-a")).getByTestId("host-state")).toHaveTextContent("draining"));
    expect(drain).toHaveBeenCalled();
    expect(within(card("box-a")).getByRole("button", { name: "Resume box-a" })).toBeInTheDocument();

    await userEvent.click(screen.getByRole("button", { name: "Resume box-c" }));
    await waitFor(() => expect(within(card("box-c")).getByTestId("host-state")).toHaveTextContent("up"));

    await userEvent.click(screen.getByRole("button", { name: "Remove box-a" }));
    expect(confirm).toHaveBeenCalledWith("Remove host box-a? No job is placed on it any more.");
    expect(await within(card("box-a")).findByRole("alert")).toHaveTextContent(
      "Host box-a still runs 1 job: drain it and wait for the job to finish.",
    );
  });

  test("a server without the hosts endpoint shows no panel", async () => {
    const { client, container } = renderWith(<FleetPanel />, {});
    await waitFor(() => expect(client.getQueryState(hostsKey())?.status).toBe("error"));
    expect(container).toBeEmptyDOMElement();
  });
});
