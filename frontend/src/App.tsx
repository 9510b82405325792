import { QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { ApiError, createClient, endpoints, type JobAccepted, type Me } from "./api/client";
import { ApiContext, useApi, useJob } from "./api/hooks";
import { storedToken, storeToken } from "./auth";
import { Admin } from "./components/Admin";
import { JobsTable } from "./components/JobsTable";
import { JobView } from "./components/JobView";
import { LockBanner } from "./components/LockBanner";
import { SignIn } from "./components/SignIn";
import { Stats } from "./components/Stats";
import { ErrorNote, Loading } from "./components/States";
import { SubmitPanel } from "./components/SubmitPanel";
import { LiveProvider, useLive } from "./live/LiveProvider";

export function App() {
  const [token, setToken] = useState<string | null>(storedToken);
  const client = useMemo(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: {
            retry: (count, error) => !(error instanceof ApiError && [401, 403, 404].includes(error.status)) && count < 2,
          },
        },
      }),
    [token],
  );
  const signOut = () => {
    storeToken(null);
    setToken(null);
  };
  if (!token) {
    return (
      <SignIn
        onSignedIn={(newToken) => {
          storeToken(newToken);
          setToken(newToken);
        }}
      />
    );
  }
  return (
    <QueryClientProvider client={client}>
      <ApiContext.Provider value={endpoints(createClient(token))}>
        <LiveProvider token={token}>
          <Shell onSignOut={signOut} />
        </LiveProvider>
      </ApiContext.Provider>
    </QueryClientProvider>
  );
}

type View = "work" | "stats" | "admin";

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const api = useApi();
  const me = useQuery({ queryKey: ["me"], queryFn: api.me });
  const [view, setView] = useState<View>("work");
  const [openJob, setOpenJob] = useState<string | null>(null);
  if (me.isPending) return <Loading what="your account" />;
  if (me.isError) {
    return (
      <main className="signin">
        <ErrorNote error={me.error} />
        <button type="button" onClick={onSignOut}>
          Sign in again
        </button>
      </main>
    );
  }
  const open = (id: string) => {
    setOpenJob(id);
    setView("work");
  };
  return (
    <div className="app">
      <header className="topbar">
        <strong className="brand">aijobs</strong>
        <nav aria-label="Sections">
          {(["work", "stats", ...(me.data.is_admin ? ["admin"] : [])] as View[]).map((entry) => (
            <button
              key={entry}
              type="button"
              className={view === entry ? "tab active" : "tab"}
              aria-current={view === entry ? "page" : undefined}
              onClick={() => setView(entry)}
            >
              {{ work: "Work", stats: "Stats", admin: "Admin" }[entry]}
            </button>
          ))}
        </nav>
        <LiveIndicator />
        <span className="who">
          {me.data.username}
          {me.data.is_admin ? " (admin)" : ""}
        </span>
        <button type="button" className="link" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <Banner me={me.data} openJob={openJob} />
      <main>
        {view === "work" && (
          <div className="columns">
            <div className="stack">
              <SubmitPanel onSubmitted={(accepted: JobAccepted) => setOpenJob(accepted.job_id)} />
              <JobsTable onOpen={open} selected={openJob} />
            </div>
            <div className="stack">
              {openJob ? (
                <JobView key={openJob} jobId={openJob} onClose={() => setOpenJob(null)} />
              ) : (
                <section className="card empty">Submit a job or open one from the list to follow it here.</section>
              )}
            </div>
          </div>
        )}
        {view === "stats" && <Stats />}
        {view === "admin" && me.data.is_admin && <Admin onOpen={open} />}
      </main>
    </div>
  );
}

function Banner({ openJob }: { me: Me; openJob: string | null }) {
  return openJob ? <BannerWithJob jobId={openJob} /> : <LockBanner />;
}

function BannerWithJob({ jobId }: { jobId: string }) {
  const job = useJob(jobId);
  return <LockBanner mine={job.data} />;
}

function LiveIndicator() {
  const { connected, problem } = useLive();
  return connected ? (
    <span className="live live-on" data-testid="live-indicator" title="Updates arrive as they happen">
      ● live
    </span>
  ) : (
    <span className="live live-off" data-testid="live-indicator" role="status">
      ● {problem ?? "connecting"} — checking every few seconds instead
    </span>
  );
}
