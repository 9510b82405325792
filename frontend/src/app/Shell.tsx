import { useState } from "react";
import { ErrorNote, Loading } from "../components/States";
import { FleetPanel } from "../features/fleet/components/FleetPanel";
import { LockBanner } from "../features/lock/components/LockBanner";
import { useMe } from "../lib/api/get-me";
import { LiveIndicator } from "./LiveIndicator";
import { AdminPage } from "./routes/AdminPage";
import { StatsPage } from "./routes/StatsPage";
import { WorkPage } from "./routes/WorkPage";

type Tab = "work" | "stats" | "admin";
const TAB_NAMES: Record<Tab, string> = { work: "Work", stats: "Stats", admin: "Admin" };

/** The signed-in page: the top bar with its tabs, the GPU banner and hosts, and the open tab. */
export function Shell({ onSignOut }: { onSignOut: () => void }) {
  const me = useMe();
  const [tab, setTab] = useState<Tab>("work");
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
  const tabs: Tab[] = me.data.is_admin ? ["work", "stats", "admin"] : ["work", "stats"];
  const open = (id: string) => {
    setOpenJob(id);
    setTab("work");
  };
  return (
    <div className="app">
      <header className="topbar">
        <strong className="brand">aijobs</strong>
        <nav aria-label="Sections">
          {tabs.map((entry) => (
            <button
              key={entry}
              type="button"
              className={tab === entry ? "tab active" : "tab"}
              aria-current={tab === entry ? "page" : undefined}
              onClick={() => setTab(entry)}
            >
              {TAB_NAMES[entry]}
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
      <LockBanner myJobId={openJob} />
      <FleetPanel admin={me.data.is_admin} />
      <main>
        {tab === "work" && <WorkPage openJob={openJob} onOpen={open} onClose={() => setOpenJob(null)} />}
        {tab === "stats" && <StatsPage />}
        {tab === "admin" && me.data.is_admin && <AdminPage onOpen={open} />}
      </main>
    </div>
  );
}
