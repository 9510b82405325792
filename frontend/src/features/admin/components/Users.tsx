import { Listing } from "../../../components/Listing";
import { Table } from "../../../components/Table";
import { useKeys, type KeyView } from "../api/get-keys";
import { useUsers } from "../api/get-users";
import { useRevokeKey } from "../api/revoke-key";
import { CreateUserForm } from "./CreateUserForm";

/** Users with their live keys (each revocable), and a form for a new user. */
export function Users() {
  const users = useUsers();
  const keys = useKeys();
  return (
    <section className="card" aria-labelledby="users-title">
      <h2 id="users-title">Users and keys</h2>
      <CreateUserForm />
      <Listing query={users} what="users" items={users.data} empty="No users yet.">
        {(rows) => (
          <Table headers={["User", "Role", "Keys", "Last seen"]}>
            {rows.map((user) => (
              <tr key={user.id}>
                <td>{user.username}</td>
                <td>{user.is_admin ? "admin" : "user"}</td>
                <td>
                  <KeyChips keys={(keys.data ?? []).filter((key) => key.user_id === user.id && !key.revoked_at)} />
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

function KeyChips({ keys }: { keys: KeyView[] }) {
  const revoke = useRevokeKey();
  return (
    <>
      {keys.map((key) => (
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
    </>
  );
}
