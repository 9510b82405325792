// One Socket.IO connection per signed-in page. Its events update TanStack Query's cache in place,
// under the same keys the queries use; while the socket is down `connected` is false and they poll.
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState, type ReactNode } from "react";
import { io, type Socket } from "socket.io-client";
import { hostsKey } from "../features/fleet/api/get-hosts";
import { jobsKeys } from "../features/jobs/api/get-jobs";
import { statsKeys } from "../features/stats/api/get-stats";
import { jobStatusKey, type JobView } from "../lib/api/get-job-status";
import { findJobType, jobTypesKey, type JobTypeList } from "../lib/api/get-job-types";
import { lockKey, type GpuLock } from "../lib/api/get-lock";
import { modelsKey } from "../lib/api/get-models";
import { settingsKey } from "../lib/api/get-settings";
import { LiveContext } from "../lib/live";
import { readProgress } from "../lib/progress";
import { TextStore } from "../lib/text-store";

interface ProgressEvent {
  job_id: string;
  text: string;
  offset: number;
  percent?: number;
  message?: string;
  [field: string]: unknown;
}

export function handleJobUpdate(client: QueryClient, texts: TextStore, status: JobView): void {
  // A status fetch already under way began before this change (e.g. the refetch after a cancel click,
  // answered before the worker stopped the job): its answer is older news, so drop it. Polling is slow
  // while the socket is up, so a stale "running" would otherwise stay on screen for half a minute.
  void client.cancelQueries({ queryKey: jobStatusKey(status.job_id) });
  client.setQueryData(jobStatusKey(status.job_id), status);
  const text = readProgress(status.progress).text;
  if (text) texts.catchUp(status.job_id, text);
  void client.invalidateQueries({ queryKey: jobsKeys.all });
  void client.invalidateQueries({ queryKey: statsKeys.all });
  void client.invalidateQueries({ queryKey: hostsKey() }); // a host's queue and slots changed
  if (status.status === "completed") refreshWhatTheJobChanged(client, status.job_type);
}

/** A completed training deploys a new active model; a model job changes what Ollama has loaded. */
function refreshWhatTheJobChanged(client: QueryClient, jobType: string): void {
  const kind = findJobType(client.getQueryData<JobTypeList>(jobTypesKey())?.job_types, jobType).result_kind;
  if (kind === "training") void client.invalidateQueries({ queryKey: settingsKey() });
  if (kind === "training" || kind === "model") void client.invalidateQueries({ queryKey: modelsKey() });
}

export function handleJobProgress(client: QueryClient, texts: TextStore, event: ProgressEvent): void {
  const { job_id: jobId, text, offset, ...fields } = event;
  if (text && !texts.apply(jobId, offset, text)) {
    void client.invalidateQueries({ queryKey: jobStatusKey(jobId) }); // missed a chunk: the status has it all
  }
  client.setQueryData<JobView>(jobStatusKey(jobId), (old) => (old ? { ...old, progress: { ...old.progress, ...fields } } : old));
}

export function handleLockUpdate(client: QueryClient, lock: GpuLock): void {
  void client.cancelQueries({ queryKey: lockKey() }); // older news, as in handleJobUpdate
  client.setQueryData(lockKey(), lock);
  void client.invalidateQueries({ queryKey: hostsKey() }); // who holds each host's slots
}

export function LiveProvider({ token, children }: { token: string; children: ReactNode }) {
  const client = useQueryClient();
  const texts = useMemo(() => new TextStore(), []);
  const [socket, setSocket] = useState<Socket | null>(null);
  const [connected, setConnected] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    const connection = io({ auth: { token }, transports: ["websocket", "polling"], reconnectionDelayMax: 5000 });
    connection.on("connect", () => {
      setConnected(true);
      setProblem(null);
      void client.invalidateQueries(); // catch up on whatever happened while we were away
    });
    connection.on("disconnect", (reason) => {
      setConnected(false);
      setProblem(`live updates lost (${reason})`);
    });
    connection.on("connect_error", (error) => {
      setConnected(false);
      setProblem(`live updates unavailable: ${error.message}`);
    });
    connection.on("job:update", (status: JobView) => handleJobUpdate(client, texts, status));
    connection.on("job:progress", (event: ProgressEvent) => handleJobProgress(client, texts, event));
    connection.on("lock:update", (lock: GpuLock) => handleLockUpdate(client, lock));
    setSocket(connection);
    return () => {
      connection.close();
    };
  }, [token, client, texts]);

  const value = useMemo(() => ({ connected, problem, texts, socket }), [connected, problem, texts, socket]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}
