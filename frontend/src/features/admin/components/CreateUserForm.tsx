import { useState, type FormEvent } from "react";
import { ErrorNote } from "../../../components/States";
import { useCreateUser } from "../api/create-user";

/** A new user and their first key, which is shown here once (the server keeps only its hash). */
export function CreateUserForm() {
  const [name, setName] = useState("");
  const [admin, setAdmin] = useState(false);
  const create = useCreateUser();
  const send = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ username: name, isAdmin: admin }, { onSuccess: () => setName("") });
  };
  return (
    <>
      <form className="row" onSubmit={send}>
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
      {create.data && (
        <p className="notice" role="status">
          Key for <strong>{create.data.username}</strong> (shown once): <code className="secret">{create.data.key}</code>
        </p>
      )}
    </>
  );
}
