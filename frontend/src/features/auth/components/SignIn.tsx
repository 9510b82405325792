import { useState, type FormEvent } from "react";
import { getMe, type Me } from "../../../lib/api/get-me";
import { ApiError, createClient } from "../../../lib/api-client";

/** Paste an API key (printed by the server on first start, or `aijobs users create NAME`) or a token. */
export function SignIn({ onSignedIn }: { onSignedIn: (token: string, me: Me) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = await getMe(createClient(token.trim()));
      onSignedIn(token.trim(), me);
    } catch (caught) {
      setError(
        caught instanceof ApiError && caught.status === 401
          ? `That key was not accepted: ${caught.message}`
          : (caught as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <form className="card" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">aijobs</h1>
        <p>One GPU, shared fairly. Sign in with your API key or token.</p>
        <label htmlFor="token">
          API key or token
          <input
            id="token"
            type="password"
            autoComplete="current-password"
            required
            value={token}
            onChange={(e) => setToken(e.target.value)}
            placeholder="aij_…"
          />
        </label>
        <button type="submit" className="primary" disabled={busy || !token.trim()}>
          {busy ? "Checking…" : "Sign in"}
        </button>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <p className="muted small">
          No key? The server printed an admin key when it first started; an admin can create more (<code>aijobs users create NAME</code>).
        </p>
      </form>
    </main>
  );
}
