import type { UseQueryResult } from "@tanstack/react-query";
import { Listing } from "../../../components/Listing";
import { Table } from "../../../components/Table";
import { useGpuHistory, type History } from "../api/get-gpu-history";
import { useLeaseHistory } from "../api/get-lease-history";

export function GpuHistory() {
  return <HistoryCard title="GPU history" history={useGpuHistory()} />;
}

export function LeaseHistory() {
  return <HistoryCard title="Lease history" history={useLeaseHistory()} />;
}

/** Who held what, for what, from when, and how it ended; folded until opened. */
function HistoryCard({ title, history }: { title: string; history: UseQueryResult<History> }) {
  return (
    <section className="card" aria-label={title}>
      <details>
        <summary>
          <h2 className="inline-heading">{title}</h2>
        </summary>
        <Listing query={history} what="history" items={history.data?.entries} empty="Nothing yet.">
          {(rows) => (
            <Table headers={["Resource", "Who", "What", "From", "Ended"]}>
              {rows.map((entry) => (
                <tr key={entry.id}>
                  <td>
                    <code>{entry.key}</code>
                  </td>
                  <td>{entry.username ?? entry.holder}</td>
                  <td>{[entry.operation, entry.details].filter(Boolean).join(" · ") || "—"}</td>
                  <td>{new Date(entry.acquired_at).toLocaleString()}</td>
                  <td>
                    {entry.end_reason ?? "—"}
                    {entry.ended_by ? ` by ${entry.ended_by}` : ""}
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </Listing>
      </details>
    </section>
  );
}
