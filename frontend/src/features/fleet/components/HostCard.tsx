import { ErrorNote } from "../../../components/States";
import { Table } from "../../../components/Table";
import { ago, bytes, duration, secondsSince } from "../../../lib/format";
import { useDrainHost } from "../api/drain-host";
import { slotKey, slotNumber, type Host, type HostState, type LoadedModel, type ModelCost, type RunningJob } from "../api/get-hosts";
import { useRemoveHost } from "../api/remove-host";
import { useResumeHost } from "../api/resume-host";

const STATE_NOTES: Record<HostState, string | null> = {
  up: null,
  down: "unreachable: no job is placed here until it answers again",
  draining: "finishes what runs, takes no new job",
};

/** The state in words (colour only repeats it). */
export function HostStateBadge({ state }: { state: HostState }) {
  return (
    <span className={`badge badge-host-${state}`} data-testid="host-state">
      {state}
    </span>
  );
}

/** "1 of 2 slots busy" */
export function slotsSummary(host: Host): string {
  return `${host.running.length} of ${host.slots} ${host.slots === 1 ? "slot" : "slots"} busy`;
}

/** "llama3:latest loaded (4.7 GB)", "2 models loaded (9.3 GB)", "no model loaded" */
export function loadedSummary(host: Host): string {
  const used = memoryOf(host.loaded);
  const total = used > 0 ? ` (${bytes(used)})` : "";
  if (host.loaded.length === 0) return "no model loaded";
  if (host.loaded.length === 1) return `${host.loaded[0].name} loaded${total}`;
  return `${host.loaded.length} models loaded${total}`;
}

function memoryOf(models: LoadedModel[]): number {
  return models.reduce((sum, model) => sum + (model.size ?? 0), 0);
}

/** One host: state, facts, each slot and who runs what on it, loaded models, learned costs; admin actions. */
export function HostCard({ host, admin, now }: { host: Host; admin: boolean; now: number }) {
  const titleId = `host-${host.name}-title`;
  const note = STATE_NOTES[host.state];
  return (
    <article className={`host host-${host.state}`} aria-labelledby={titleId} data-testid="fleet-host" data-host={host.name} data-state={host.state}>
      <header className="row">
        <h3 id={titleId}>{host.name}</h3>
        <HostStateBadge state={host.state} />
        {note && <span className="muted small">{note}</span>}
      </header>
      <HostFacts host={host} now={now} />
      <h4>{slotsSummary(host)}</h4>
      <ul className="plain host-slots">
        {slotRows(host).map(({ key, job }, index) => (
          <li key={index} data-testid="host-slot">
            <code>{key}</code> {job ? <SlotJob job={job} now={now} /> : <span className="muted">free</span>}
          </li>
        ))}
      </ul>
      <LoadedModels host={host} now={now} />
      {host.queued_warm > 0 && (
        <p className="small">
          {host.queued_warm} queued {host.queued_warm === 1 ? "job uses a model" : "jobs use models"} loaded here.
        </p>
      )}
      <Costs costs={host.costs} />
      {admin && <HostActions host={host} />}
    </article>
  );
}

function HostFacts({ host, now }: { host: Host; now: number }) {
  const facts = [
    host.version ? `Ollama ${host.version}` : null,
    host.gpu_memory !== null ? `${bytes(host.gpu_memory)} GPU memory` : null,
    host.probed_at ? `checked ${ago(secondsSince(host.probed_at, now))}` : "not checked yet",
  ].filter(Boolean);
  return (
    <p className="muted small host-facts">
      {host.base_url && (
        <>
          <code>{host.base_url}</code>
          {" · "}
        </>
      )}
      {facts.join(" · ")}
      {host.labels.map((label) => (
        <span key={label} className="chip">
          {label}
        </span>
      ))}
    </p>
  );
}

function SlotJob({ job, now }: { job: RunningJob; now: number }) {
  return (
    <span>
      {[job.username ?? "—", job.operation ?? "Maintenance"].join(" · ")}
      {job.model && (
        <>
          {" · "}
          <code>{job.model}</code>
        </>
      )}
      {" · "}
      <span className="muted">{ago(secondsSince(job.since, now))}</span>
    </span>
  );
}

/** Every slot of the host, held or free, in order, named by its lease key (as the GPU slots name it); a
 *  holder whose slot is beyond the host's count (the count was lowered) is still shown. */
function slotRows(host: Host): { key: string; job?: RunningJob }[] {
  const held = new Map(host.running.map((job) => [slotNumber(job.slot), job]));
  const rows = Array.from({ length: host.slots }, (_, n) => ({ key: slotKey(host.name, n), job: held.get(n) }));
  const beyond = host.running.filter((job) => !(slotNumber(job.slot) < host.slots));
  return [...rows, ...beyond.map((job) => ({ key: slotKey(host.name, slotNumber(job.slot)), job }))];
}

function LoadedModels({ host, now }: { host: Host; now: number }) {
  if (host.loaded.length === 0) return <p className="muted small">No model loaded.</p>;
  const used = memoryOf(host.loaded);
  return (
    <>
      <h4>
        Loaded: {bytes(used)}
        {host.gpu_memory !== null && ` of ${bytes(host.gpu_memory)}`}
      </h4>
      <ul className="plain host-loaded">
        {host.loaded.map((model) => (
          <li key={model.name}>
            <code>{model.name}</code> {model.size !== null ? bytes(model.size) : "size unknown"} <span className="muted small">· {unloads(model.expires_at, now)}</span>
          </li>
        ))}
      </ul>
    </>
  );
}

/** When Ollama lets the model go if nothing uses it ("kept loaded" for a day or more, or never). */
function unloads(expiresAt: string | null, now: number): string {
  if (!expiresAt) return "kept loaded";
  const seconds = (Date.parse(expiresAt) - now) / 1000;
  if (!Number.isFinite(seconds) || seconds > 86_400) return "kept loaded";
  if (seconds <= 0) return "unloading";
  return seconds < 60 ? "unloads within a minute" : `unloads in ${Math.round(seconds / 60)} min`;
}

/** What each model has been learned to cost here: the load time placement weighs, speed, run time. */
function Costs({ costs }: { costs: ModelCost[] }) {
  if (costs.length === 0) return null;
  const loading = costs.reduce((sum, cost) => sum + cost.loading_seconds_total, 0);
  const busy = costs.reduce((sum, cost) => sum + cost.busy_seconds_total, 0);
  return (
    <>
      <h4>Learned costs</h4>
      <Table headers={["Model", "Load time", "Speed", "Typical run", "Jobs"]}>
        {costs.map((cost) => (
          <tr key={cost.model}>
            <td>
              <code>{cost.model}</code>
            </td>
            <td>{cost.loads > 0 ? duration(cost.load_seconds) : "not measured yet"}</td>
            <td>{typeof cost.tokens_per_second === "number" ? `${Math.round(cost.tokens_per_second)} tokens/s` : "—"}</td>
            <td>{duration(cost.run_seconds)}</td>
            <td>
              {cost.jobs}
              {cost.failures > 0 && ` (${cost.failures} failed)`}
            </td>
          </tr>
        ))}
      </Table>
      {loading >= 0.5 && busy > 0 && (
        <p className="muted small">
          Loading models took {duration(loading)} of {duration(busy)} busy ({Math.round((100 * loading) / busy)}%).
        </p>
      )}
    </>
  );
}

/** Drain (finish what runs, take nothing new), resume, remove; the server's refusal is shown as it words it. */
function HostActions({ host }: { host: Host }) {
  const drain = useDrainHost();
  const resume = useResumeHost();
  const remove = useRemoveHost();
  const all = [drain, resume, remove];
  const pending = all.some((action) => action.isPending);
  const failed = all.find((action) => action.isError)?.error;
  const run = (action: typeof drain) => {
    all.forEach((other) => other.reset());
    action.mutate(host.name);
  };
  const confirmRemove = () => {
    if (window.confirm(`Remove host ${host.name}? No job is placed on it any more.`)) run(remove);
  };
  return (
    <div className="host-actions">
      <div className="row">
        {host.draining ? (
          <button type="button" aria-label={`Resume ${host.name}`} disabled={pending} onClick={() => run(resume)}>
            Resume
          </button>
        ) : (
          <button type="button" aria-label={`Drain ${host.name}`} title="Finish what runs here, take no new job" disabled={pending} onClick={() => run(drain)}>
            Drain
          </button>
        )}
        <button type="button" className="danger" aria-label={`Remove ${host.name}`} disabled={pending} onClick={confirmRemove}>
          Remove
        </button>
      </div>
      {failed && <ErrorNote error={failed} />}
    </div>
  );
}
