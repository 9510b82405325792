import { useState, type ReactNode } from "react";
import { Empty, ErrorNote } from "../../../components/States";
import { useNow } from "../../../hooks/use-now";
import { DEFAULT_HOST, isMissing, useHosts, type Fleet, type Host } from "../api/get-hosts";
import { HostCard, HostStateBadge, loadedSummary, slotsSummary } from "./HostCard";

/** Every GPU host, under the GPU banner: its state, who runs what on its slots, what it has loaded, what
 *  its models cost there. A deployment with one host named "default" (a single GPU) gets one line that
 *  opens into the host's card; several hosts get a card each. `admin`: drain, resume and remove. */
export function FleetPanel({ admin = false }: { admin?: boolean }) {
  const fleet = useHosts();
  const now = useNow(5000); // keeps "n seconds ago" current
  if (!fleet.data) {
    // While loading the banner above already speaks for the GPU; a server without hosts has no panel.
    if (!fleet.isError || isMissing(fleet.error)) return null;
    return <div className="banner banner-error">Cannot read the GPU hosts: {fleet.error.message}</div>;
  }
  const { hosts } = fleet.data;
  const stale = fleet.isError && <ErrorNote error={fleet.error} retry={() => void fleet.refetch()} />;
  if (hosts.length === 1 && hosts[0].name === DEFAULT_HOST) {
    return <CompactFleet fleet={fleet.data} host={hosts[0]} admin={admin} now={now} stale={stale} />;
  }
  const busy = hosts.reduce((sum, host) => sum + host.running.length, 0);
  const slots = hosts.reduce((sum, host) => sum + host.slots, 0);
  return (
    <section className="card fleet" aria-labelledby="fleet-title" data-testid="fleet-panel">
      <div className="row">
        <h2 id="fleet-title">GPU hosts</h2>
        <span className="muted small">
          {hosts.length} {hosts.length === 1 ? "host" : "hosts"} · {busy} of {slots} slots busy
        </span>
      </div>
      <SchedulerLine fleet={fleet.data} />
      {stale}
      {hosts.length === 0 ? (
        <Empty>No GPU host is configured: jobs wait until an admin adds one.</Empty>
      ) : (
        <div className="fleet-grid">
          {hosts.map((host) => (
            <HostCard key={host.name} host={host} admin={admin} now={now} />
          ))}
        </div>
      )}
    </section>
  );
}

/** The single-GPU case: one line (host, state, slots, loaded models, version); the card when opened. */
function CompactFleet({ fleet, host, admin, now, stale }: { fleet: Fleet; host: Host; admin: boolean; now: number; stale: ReactNode }) {
  const [open, setOpen] = useState(false);
  return (
    <details className="card fleet fleet-compact" data-testid="fleet-panel" onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary data-testid="fleet-summary">
        <strong>GPU host</strong> <code>{host.name}</code> <HostStateBadge state={host.state} />
        <span className="muted small">
          {" "}
          {[slotsSummary(host), loadedSummary(host), host.version ? `Ollama ${host.version}` : null].filter(Boolean).join(" · ")}
        </span>
      </summary>
      {stale}
      {open && (
        <>
          <SchedulerLine fleet={fleet} />
          <HostCard host={host} admin={admin} now={now} />
        </>
      )}
    </details>
  );
}

function SchedulerLine({ fleet }: { fleet: Fleet }) {
  const how =
    fleet.scheduler === "placement"
      ? `a job goes to a host that already has its model loaded when that is sooner than loading it; no job is passed over for more than ${waitBound(fleet.max_bypass_seconds)}`
      : "first come, first served, whichever model a host has loaded";
  return (
    <p className="muted small" data-testid="fleet-scheduler">
      Scheduler: <strong>{fleet.scheduler}</strong> — {how}.
    </p>
  );
}

function waitBound(seconds: number): string {
  return seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
}
