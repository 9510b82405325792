import { Listing } from "../../../components/Listing";
import { ErrorNote } from "../../../components/States";
import { Table } from "../../../components/Table";
import { ago, secondsSince } from "../../../lib/format";
import { useForceReleaseLease } from "../api/force-release-lease";
import { useLeases } from "../api/get-leases";

/** Leases on other resources than the GPU (a folder, a dataset), each with a force release. */
export function Leases() {
  const leases = useLeases();
  const release = useForceReleaseLease();
  return (
    <section className="card" aria-labelledby="leases-title">
      <h2 id="leases-title">Leases</h2>
      <p className="muted small">Resources other than the GPU slots (those are above).</p>
      <Listing query={leases} what="leases" items={leases.data?.leases} empty="No resource is held right now.">
        {(rows) => (
          <Table headers={["Resource", "Holder", "Task", "Since", "Expires", <span className="sr-only">Actions</span>]}>
            {rows.map((lease) => (
              <tr key={lease.key}>
                <td>
                  <code>{lease.key}</code>
                </td>
                <td>{lease.username ?? "—"}</td>
                <td>{lease.operation ?? lease.task_ref ?? "—"}</td>
                <td>{ago(secondsSince(lease.started_at))}</td>
                <td>{new Date(lease.expires_at).toLocaleTimeString()}</td>
                <td>
                  <button
                    type="button"
                    className="danger"
                    aria-label={`Force release ${lease.key}`}
                    onClick={() => window.confirm(`Force release ${lease.key}? The job holding it is cancelled.`) && release.mutate(lease.key)}
                  >
                    Force release
                  </button>
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Listing>
      {release.isError && <ErrorNote error={release.error} />}
    </section>
  );
}
