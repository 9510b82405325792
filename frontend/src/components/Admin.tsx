import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import type { HistoryEntry, IssuedKey } from "../api/client";
import { useApi, useModels } from "../api/hooks";
import { ago, secondsSince } from "../format";
import { JobsTable } from "./JobsTable";
import { Stats } from "./Stats";
import { ErrorNote, Listing, Table } from "./States";

/** Admins: all jobs, leases (force release), history, users and keys, models. */
export function Admin({ onOpen }: { onOpen: (id: string) => void }) {
  return (
    <div className="stack">
      <JobsTable all onOpen={onOpen} />
      <Stats all />
      <Leases />
      <History title="GPU history" queryKey="gpu-history" />
      <History title="Lease history" queryKey="lease-history" />
      <Users />
      <Models />
    </div>
  );
}

function Leases() {
  const api = useApi();
  const client = useQueryClient();
  const leases = useQuery({ queryKey: ["leases"], queryFn: api.leases, refetchInterval: 5000 });
  const release = useMutation({
    mutationFn: (key: string) => (key.startsWith("gpu/") ? api.forceReleaseGpu() : api.forceReleaseLease(key)),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["leases"] });
      void client.invalidateQueries({ queryKey: ["lock"] });
    },
  });
  return (
    <section className="card" aria-labelledby="leases-title">
      <h2 id="leases-title">Leases</h2>
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
                      onClick={() => {
                        if (window.confirm(`Force release ${lease.key}? The job holding it is cancelled.`)) release.mutate(lease.key);
                      }}
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

function History({ title, queryKey }: { title: string; queryKey: "gpu-history" | "lease-history" }) {
  const api = useApi();
  const history = useQuery({
    queryKey: [queryKey],
    queryFn: queryKey === "gpu-history" ? api.lockHistory : api.leaseHistory,
  });
  return (
    <section className="card" aria-label={title}>
      <details>
        <summary>
          <h2 className="inline-heading">{title}</h2>
        </summary>
        <Listing query={history} what="history" items={history.data?.entries} empty="Nothing yet.">
          {(rows) => (
            <Table headers={["Resource", "Who", "What", "From", "Ended"]}>
                {rows.map((entry: HistoryEntry) => (
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

function Users() {
  const api = useApi();
  const client = useQueryClient();
  const users = useQuery({ queryKey: ["users"], queryFn: api.users });
  const keys = useQuery({ queryKey: ["keys"], queryFn: api.keys });
  const [name, setName] = useState("");
  const [admin, setAdmin] = useState(false);
  const [issued, setIssued] = useState<IssuedKey | null>(null);
  const refresh = () => {
    void client.invalidateQueries({ queryKey: ["users"] });
    void client.invalidateQueries({ queryKey: ["keys"] });
  };
  const create = useMutation({
    mutationFn: () => api.createUser(name, admin),
    onSuccess: (key) => {
      setIssued(key);
      setName("");
      refresh();
    },
  });
  const revoke = useMutation({ mutationFn: (id: number) => api.revokeKey(id), onSuccess: refresh });
  return (
    <section className="card" aria-labelledby="users-title">
      <h2 id="users-title">Users and keys</h2>
      <form className="row" onSubmit={(event: FormEvent) => (event.preventDefault(), create.mutate())}>
        <label htmlFor="new-user">
          New user
          <input id="new-user" required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label className="inline">
          <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.target.checked)} /> admin
        </label>
        <button type="submit" disabled={create.isPending}>
          Create and issue a key
        </button>
      </form>
      {create.isError && <ErrorNote error={create.error} />}
      {issued && (
        <p className="notice" role="status">
          Key for <strong>{issued.username}</strong> (shown once): <code className="secret">{issued.key}</code>
        </p>
      )}
      <Listing query={users} what="users" items={users.data} empty="No users yet.">
        {(rows) => (
          <Table headers={["User", "Role", "Keys", "Last seen"]}>
              {rows.map((user) => (
                <tr key={user.id}>
                  <td>{user.username}</td>
                  <td>{user.is_admin ? "admin" : "user"}</td>
                  <td>
                    {(keys.data ?? [])
                      .filter((key) => key.user_id === user.id && !key.revoked_at)
                      .map((key) => (
                        <span key={key.id} className="key-chip">
                          <code>{key.prefix}…</code>
                          <button
                            type="button"
                            className="link"
                            aria-label={`Revoke key ${key.prefix}`}
                            onClick={() => window.confirm(`Revoke ${key.prefix}…? Clients using it stop working.`) && revoke.mutate(key.id)}
                          >
                            revoke
                          </button>
                        </span>
                      ))}
                  </td>
                  <td>{user.last_seen ? new Date(user.last_seen).toLocaleString() : "never"}</td>
                </tr>
              ))}
                      </Table>
        )}
      </Listing>
    </section>
  );
}

function Models() {
  const api = useApi();
  const client = useQueryClient();
  const models = useModels();
  const act = useMutation({
    mutationFn: ({ name, load }: { name: string; load: boolean }) => (load ? api.loadModel(name) : api.unloadModel(name)),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["jobs"] }), // models refresh when the job ends
  });
  return (
    <section className="card" aria-labelledby="models-title">
      <h2 id="models-title">Models</h2>
      <Listing query={models} what="models" items={models.data?.models} empty="Ollama has no models. Pull one first.">
        {(rows) => (
          <ul className="plain">
          {rows.map((model) => (
            <li key={model.name} className="row">
              <code>{model.name}</code>
              <span className={`badge ${model.loaded ? "badge-running" : "badge-queued"}`}>{model.loaded ? "loaded" : "not loaded"}</span>
              <button type="button" onClick={() => act.mutate({ name: model.name, load: !model.loaded })}>
                {model.loaded ? "Unload" : "Load"}
              </button>
            </li>
          ))}
        </ul>
        )}
      </Listing>
      {act.isError && <ErrorNote error={act.error} />}
      {act.isSuccess && <p className="muted small">Queued as a job: it runs when the GPU slot is free.</p>}
    </section>
  );
}
