// End to end in a real browser: Debian's Chromium driven by playwright-core, against a real
// `aijobs serve` on embedded PostgreSQL with the Ollama simulator. Started by tests/test_page.py,
// which passes AIJOBS_URL, ALICE_TOKEN, BOB_TOKEN, CHROMIUM and SCREENSHOT_DIR.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page, type WebSocketRoute } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Fleet } from "../src/features/fleet/api/get-hosts";
import type { JobType } from "../src/lib/api/get-job-types";

const BASE = process.env.AIJOBS_URL ?? "http://127.0.0.1:8000";
const SHOTS = process.env.SCREENSHOT_DIR ?? "test-artifacts";
const ALICE = process.env.ALICE_TOKEN ?? "";
const BOB = process.env.BOB_TOKEN ?? "";
const ADMIN = process.env.ADMIN_TOKEN ?? "";

let browser: Browser;
/** The server's job types (what the page names each job by). */
let jobTypes: JobType[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const answer = await fetch(`${BASE}/api/ai-agent/job-types`, { headers: { Authorization: `Bearer ${ALICE}` } });
  jobTypes = ((await answer.json()) as { job_types: JobType[] }).job_types;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    // Playwright gives each launch a fresh, temporary user-data directory.
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-dev-shm-usage"],
  });
});

afterAll(async () => {
  await browser?.close();
});

async function newContext(width = 1280): Promise<BrowserContext> {
  return browser.newContext({ viewport: { width, height: 900 } });
}

function labelOf(jobType: string): string {
  return jobTypes.find((entry) => entry.job_type === jobType)?.label ?? jobType;
}

async function signIn(token: string, width = 1280): Promise<Page> {
  const context = await newContext(width);
  const page = await context.newPage();
  await page.goto(BASE);
  await page.getByLabel("API key or token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("lock-banner").waitFor();
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Submit a report; `extraSections` more sections make it hold the GPU longer (a few seconds each). */
async function submitReport(page: Page, title: string, details: string, extraSections = 0): Promise<void> {
  await page.getByRole("tab", { name: "Report", exact: true }).click();
  await page.getByLabel("Title").fill(title);
  await page.getByLabel(/^Details/).fill(details);
  for (let n = 3; n < 3 + extraSections; n++) {
    await page.getByRole("button", { name: "+ Add a section" }).click();
    await page.getByLabel(`Section ${n} heading`).fill(`Part ${n}`);
    await page.getByLabel(`Section ${n} instructions`).fill("More detail on what happened.");
  }
  await page.getByRole("button", { name: "Write the report" }).click();
  // The note follows the job: it may already be running by the time it is read.
  await expect.poll(() => page.getByTestId("accepted").textContent()).toMatch(/^(Queued — position \d+|Running)/);
}

/** Sample `read` until `done` holds; returns every distinct value seen on the way. */
async function watch(read: () => Promise<string>, done: (value: string) => boolean, seconds = 60): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await read();
    if (seen[seen.length - 1] !== value) seen.push(value);
    if (done(value)) return seen;
    if (Date.now() > deadline) throw new Error(`gave up after ${seconds}s; saw ${JSON.stringify(seen.slice(-5))}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the page", () => {
  test("sign in, submit a report, watch progress move and the text stream, see the result", async () => {
    const page = await signIn(ALICE);
    await shot(page, "01-signed-in");
    await submitReport(page, "ACME Breach", "Case: ACME Breach (ID: 5)");
    const view = page.getByTestId("job-view");
    await view.waitFor();

    const status = () => view.getAttribute("data-status").then((value) => value ?? "");
    const percent = () => page.getByTestId("progress-bar").getAttribute("data-percent").then((value) => value ?? "0");
    const text = () =>
      page.getByTestId("job-text").textContent({ timeout: 100 }).then((value) => value ?? "", () => "");
    await expect.poll(status, { timeout: 30_000 }).toBe("running");
    await expect.poll(async () => (await text()).length, { timeout: 30_000 }).toBeGreaterThan(40);
    await shot(page, "02-report-streaming");
    expect(await page.getByTestId("accepted").textContent()).toMatch(/^(Running|Completed)/); // not "Queued" any more
    // Sample the page while the job runs: the bar and the text must move, not jump to the end.
    let percentShot = false;
    const samples = await watch(
      async () => {
        const sample = `${await status()}|${await percent()}|${(await text()).length}`;
        if (!percentShot && /^running\|[1-9]/.test(sample)) {
          percentShot = true; // the second section: the bar at a percent, the report rendered as it streams
          await shot(page, "09-progress-percent");
        }
        return sample;
      },
      (sample) => !sample.startsWith("running"),
      90,
    );
    expect(percentShot, "the bar showed a percent while the report ran").toBe(true);
    const running = samples.filter((sample) => sample.startsWith("running"));
    const percents = new Set(running.map((sample) => sample.split("|")[1]));
    const lengths = new Set(running.map((sample) => sample.split("|")[2]).filter((length) => length !== "0"));
    expect(percents.size, "the progress bar moves").toBeGreaterThan(1);
    expect(lengths.size, "the text grows while the job runs").toBeGreaterThan(2);
    await expect.poll(status, { timeout: 30_000 }).toBe("completed");
    const result = page.getByTestId("job-result");
    await expect.poll(() => result.locator("h1").first().textContent()).toBe("ACME Breach");
    await expect.poll(() => result.locator("h2").allTextContents()).toEqual(["Summary", "Findings"]);
    await expect.poll(() => page.getByTestId("accepted").textContent()).toMatch(/^Completed in /);
    await shot(page, "03-report-done");
    await page.context().close();
  });

  test("a second user sees who holds the GPU and their place; cancel frees it for them", async () => {
    const alice = await signIn(ALICE);
    const bob = await signIn(BOB, 420); // a phone-width window
    await submitReport(alice, "Long report", "Case: ACME Breach (ID: 5)", 6);
    const banner = bob.getByTestId("lock-banner");
    await expect.poll(() => banner.textContent(), { timeout: 30_000 }).toMatch(
      /GPU in use — AI Report Generation · Case: ACME Breach \(ID: 5\) · started by alice · (just now|\d+ seconds ago)/,
    );

    await bob.getByLabel("Prompt", { exact: true }).fill("Summarise the queue for me");
    await bob.getByRole("button", { name: "Run" }).click();
    await expect.poll(() => bob.getByTestId("my-position").textContent(), { timeout: 20_000 }).toMatch(/your job: position 1/);
    // Reports have completed before (the first test), so the server has an estimate, and it counts down.
    const eta = () => bob.getByTestId("accepted").textContent().then((value) => value ?? "");
    await expect.poll(eta, { timeout: 10_000 }).toMatch(/^Queued — position 1, starts (in ~\d+ (s|min)|any moment)\.$/);
    await bob.setViewportSize({ width: 1280, height: 900 });
    await expect.poll(() => bob.getByTestId("job-place").textContent()).toMatch(/^position 1 · starts/);
    await shot(bob, "10-queued-live-eta");
    await bob.setViewportSize({ width: 420, height: 900 });
    await shot(bob, "04-second-user-waiting-phone");

    await alice.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => alice.getByTestId("job-view").getAttribute("data-status"), { timeout: 20_000 }).toBe("cancelled");
    await expect.poll(() => bob.getByTestId("job-view").getAttribute("data-status"), { timeout: 30_000 }).toMatch(/running|completed/);
    await expect.poll(() => banner.textContent(), { timeout: 30_000 }).not.toContain("started by alice");
    await expect.poll(() => bob.getByTestId("job-view").getAttribute("data-status"), { timeout: 30_000 }).toBe("completed");
    await expect.poll(eta).toMatch(/^Completed/); // the note under the button followed the job to its end
    await alice.context().close();
    await bob.context().close();
  });

  test("when the socket is cut the page says so and keeps updating by polling", async () => {
    const context = await newContext();
    const page = await context.newPage();
    const sockets: WebSocketRoute[] = [];
    let cut = false;
    await page.routeWebSocket(/socket\.io/, (ws) => {
      if (cut) return void ws.close();
      ws.connectToServer();
      sockets.push(ws);
    });
    await page.route(/socket\.io/, (route) => (cut ? route.abort() : route.continue()));
    await page.goto(BASE);
    await page.getByLabel("API key or token").fill(ALICE);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByTestId("live-indicator").textContent(), { timeout: 20_000 }).toContain("live");

    cut = true;
    for (const ws of sockets) await ws.close();
    await expect.poll(() => page.getByTestId("live-indicator").textContent(), { timeout: 20_000 }).toContain(
      "checking every few seconds instead",
    );
    await page.getByLabel("Prompt", { exact: true }).fill("Are you still there?");
    await page.getByRole("button", { name: "Run" }).click();
    await expect
      .poll(() => page.getByTestId("job-view").getAttribute("data-status"), { timeout: 40_000 })
      .toBe("completed");
    await expect.poll(() => page.getByTestId("job-result").textContent()).not.toBe("");
    await shot(page, "05-polling-after-socket-cut");
    await context.close();
  });

  test("a canvas is drawn as a diagram; an admin sees every job, force-releases the GPU, sees the users", async () => {
    const alice = await signIn(ALICE);
    await alice.getByRole("tab", { name: "Canvas", exact: true }).click();
    await alice.getByLabel("What should the diagram show?").fill("Incident response: detect, triage, contain, recover");
    await alice.getByRole("button", { name: "Draw" }).click();
    const diagram = alice.getByTestId("canvas-diagram");
    await diagram.waitFor({ timeout: 60_000 });
    expect(await diagram.locator("[data-node]").count()).toBeGreaterThanOrEqual(2);
    await shot(alice, "06-canvas-diagram");

    // A long report of alice's holds the GPU; the admin sees it in the GPU slots and frees the GPU.
    await submitReport(alice, "Stuck report", "Case: ACME Breach (ID: 5)", 8);
    const admin = await signIn(ADMIN);
    await admin.getByRole("button", { name: "Admin" }).click();
    await expect.poll(() => admin.getByRole("table").first().textContent(), { timeout: 20_000 }).toContain("alice");
    const slots = admin.locator("section", { has: admin.getByRole("heading", { name: "GPU slots" }) });
    const held = slots.getByRole("row", { name: /alice/ });
    await expect.poll(() => held.textContent(), { timeout: 30_000 }).toMatch(/gpu\/\d+alice.*AI Report Generation · Case: ACME Breach \(ID: 5\)/);
    await expect.poll(() => admin.getByText("Users and keys").isVisible()).toBe(true);
    await expect.poll(() => admin.locator("section", { hasText: "Users and keys" }).textContent()).toContain("bob");
    await shot(admin, "07-admin");

    admin.once("dialog", (dialog) => void dialog.accept());
    await held.getByRole("button", { name: /^Force release gpu\/\d+$/ }).click();
    await expect.poll(() => slots.getByRole("status").textContent(), { timeout: 10_000 }).toMatch(/^Released gpu\/\d+ from alice/);
    await expect.poll(() => alice.getByTestId("job-view").getAttribute("data-status"), { timeout: 20_000 }).toBe("cancelled");
    await expect.poll(() => admin.getByTestId("lock-banner").textContent(), { timeout: 20_000 }).toMatch(/^GPU free/);
    await expect.poll(() => alice.getByTestId("lock-banner").textContent(), { timeout: 20_000 }).toMatch(/^GPU free/);
    await expect.poll(() => slots.getByRole("button", { name: /^Force release/ }).count()).toBe(0);
    await alice.context().close();
    await admin.context().close();
  });

  test("Train AI from the page: the run deploys its model and the next prompt uses it", async () => {
    const page = await signIn(ALICE);
    await page.getByRole("tab", { name: "Train AI", exact: true }).click();
    const examples = Array.from({ length: 6 }, (_, n) =>
      JSON.stringify({ prompt: `What is step ${n}?`, response: `Step ${n} keeps the GPU queue fair.` }),
    ).join("\n");
    await page.getByLabel(/^Examples/).setInputFiles({ name: "faq.jsonl", mimeType: "application/jsonl", buffer: Buffer.from(examples) });
    await expect.poll(() => page.getByText("faq.jsonl: 6 lines").isVisible()).toBe(true);
    await page.getByRole("button", { name: "Train AI" }).last().click();
    const view = page.getByTestId("job-view");
    await expect.poll(() => view.getAttribute("data-status"), { timeout: 90_000 }).toBe("completed");
    const deployed = (await page.getByTestId("job-result").textContent()) ?? "";
    const model = /Deployed (\S+) from/.exec(deployed)?.[1];
    expect(model, deployed).toMatch(/-ft-/);
    await shot(page, "08-training-deployed");

    await page.getByRole("tab", { name: "Prompt", exact: true }).click();
    await expect.poll(() => page.getByLabel("Model").locator("option").first().textContent()).toBe(`Active model (${model})`);
    await page.getByLabel("Prompt", { exact: true }).fill("Which model is answering?");
    await page.getByRole("button", { name: "Run" }).click();
    await expect.poll(() => page.locator("#job-title").textContent()).toBe(labelOf("generate")); // the new job is open
    await expect.poll(() => view.getAttribute("data-status"), { timeout: 30_000 }).toBe("completed");
    const jobs = await (await fetch(`${BASE}/api/ai-agent/jobs?type=generate&limit=1`, { headers: { Authorization: `Bearer ${ALICE}` } })).json();
    const result = await (
      await fetch(`${BASE}/api/ai-agent/job/${jobs.jobs[0].job_id}/result`, { headers: { Authorization: `Bearer ${ALICE}` } })
    ).json();
    expect(result.result?.model, JSON.stringify({ jobs, result })).toBe(model);
    await page.context().close();
  });

  test("the fleet panel shows every GPU host; an admin drains one and resumes it", async () => {
    const answer = await fetch(`${BASE}/api/ai-agent/hosts`, { headers: { Authorization: `Bearer ${ADMIN}` } });
    expect(answer.status, "GET /api/ai-agent/hosts").toBe(200);
    const fleet = (await answer.json()) as Fleet;
    expect(fleet.hosts.length).toBeGreaterThan(0);
    const compact = fleet.hosts.length === 1 && fleet.hosts[0].name === "default";

    /** The panel of `token`'s page, its host cards shown (a single "default" host is one line: opened). */
    async function panelOf(token: string): Promise<Page> {
      const page = await signIn(token);
      await page.getByTestId("fleet-panel").waitFor({ timeout: 20_000 });
      if (compact) {
        const summary = page.getByTestId("fleet-summary");
        await expect.poll(() => summary.textContent()).toMatch(/^GPU host default (up|down|draining) \d+ of \d+ slots? busy/);
        await summary.click();
      }
      return page;
    }
    const card = (page: Page, name: string) => page.locator(`[data-testid="fleet-host"][data-host="${name}"]`);

    const alice = await panelOf(ALICE);
    await expect.poll(() => alice.getByTestId("fleet-scheduler").textContent()).toContain(`Scheduler: ${fleet.scheduler}`);
    for (const host of fleet.hosts) {
      const hostCard = card(alice, host.name);
      await hostCard.waitFor({ timeout: 10_000 });
      await expect.poll(() => hostCard.getByTestId("host-state").textContent()).toMatch(/^(up|down|draining)$/);
      expect(await hostCard.getByTestId("host-slot").count()).toBeGreaterThanOrEqual(host.slots);
    }
    expect(await alice.getByRole("button", { name: /^(Drain|Resume|Remove) / }).count(), "only admins act on hosts").toBe(0);
    await shot(alice, "11-fleet");
    await alice.context().close();

    const admin = await panelOf(ADMIN);
    const target = fleet.hosts.find((host) => !host.draining);
    if (target) {
      const hostCard = card(admin, target.name);
      await hostCard.getByRole("button", { name: `Drain ${target.name}` }).click();
      await expect.poll(() => hostCard.getByTestId("host-state").textContent(), { timeout: 10_000 }).toBe("draining");
      await hostCard.getByRole("button", { name: `Resume ${target.name}` }).click();
      await expect.poll(() => hostCard.getByTestId("host-state").textContent(), { timeout: 10_000 }).toMatch(/^(up|down)$/);
      await hostCard.getByRole("button", { name: `Drain ${target.name}` }).waitFor();
    }
    await admin.context().close();
  });
});
