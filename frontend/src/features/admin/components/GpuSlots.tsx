import { ErrorNote, Loading } from "../../../components/States";
import { Table } from "../../../components/Table";
import { useNow } from "../../../hooks/use-now";
import { slotOf, useLock, type LockHolder } from "../../../lib/api/get-lock";
import { ago, secondsSince } from "../../../lib/format";
import { progressSummary, readProgress } from "../../../lib/progress";
import { useForceReleaseGpuSlot, type ReleasedSlot } from "../api/force-release-gpu-slot";

/** Each GPU slot, who holds it and doing what; a held slot can be force-released (its job is cancelled). */
export function GpuSlots() {
  const lock = useLock();
  const release = useForceReleaseGpuSlot();
  const now = useNow(5000);
  const confirmRelease = (holder: LockHolder) => {
    const what = holder.job_id ? `${holder.username ?? "Its holder"}'s ${holder.operation ?? "job"} is cancelled.` : "";
    if (window.confirm(`Force release ${holder.key}? ${what}`.trim())) release.mutate(slotOf(holder));
  };
  return (
    <section className="card" aria-labelledby="gpu-slots-title">
      <h2 id="gpu-slots-title">GPU slots</h2>
      {lock.isPending && <Loading what="the GPU slots" />}
      {lock.isError && <ErrorNote error={lock.error} retry={() => void lock.refetch()} />}
      {lock.data && (
        <Table headers={["Slot", "Holder", "Doing", "Since", "Progress", <span className="sr-only">Actions</span>]}>
          {slots(lock.data.capacity, lock.data.holders).map(({ key, holder }) => (
            <tr key={key}>
              <td>
                <code>{key}</code>
              </td>
              {holder ? (
                <>
                  <td>{holder.username ?? "—"}</td>
                  <td>{[holder.operation ?? "Maintenance", holder.details].filter(Boolean).join(" · ")}</td>
                  <td>{ago(secondsSince(holder.started_at, now))}</td>
                  <td>{progressSummary("running", readProgress(holder.progress)) ?? "working…"}</td>
                  <td>
                    <button type="button" className="danger" aria-label={`Force release ${key}`} onClick={() => confirmRelease(holder)}>
                      Force release
                    </button>
                  </td>
                </>
              ) : (
                <td colSpan={5} className="muted">
                  free
                </td>
              )}
            </tr>
          ))}
        </Table>
      )}
      {release.isError && <ErrorNote error={release.error} />}
      {release.data && <Released entries={release.data} />}
    </section>
  );
}

/** Every slot key, held or free (holders name their key: `gpu/0`). */
function slots(capacity: number, holders: LockHolder[]): { key: string; holder?: LockHolder }[] {
  const held = new Map(holders.map((holder) => [slotOf(holder), holder]));
  const count = Math.max(capacity, ...[...held.keys()].map((slot) => slot + 1));
  return Array.from({ length: count }, (_, slot) => ({ key: held.get(slot)?.key ?? `gpu/${slot}`, holder: held.get(slot) }));
}

function Released({ entries }: { entries: ReleasedSlot[] }) {
  return (
    <p className="notice" role="status">
      {entries
        .map(
          (entry) =>
            `Released ${entry.key} from ${entry.released_from}` +
            (entry.cancelled_job ? `; its job (${entry.operation ?? "job"}) is cancelled.` : "."),
        )
        .join(" ")}
    </p>
  );
}
