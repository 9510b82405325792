// One Socket.IO connection per signed-in page. Events update TanStack Query's cache in place; when
// the socket is down, `useLive().connected` is false and the queries poll instead.
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useMemo, useState, useSyncExternalStore, type ReactNode } from "react";
import { io, type Socket } from "socket.io-client";
import type { GpuLock, JobStatus } from "../api/client";
import { TextStore } from "./text";

export const POLL_MS = 3000;

interface Live {
  connected: boolean;
  problem: string | null;
  texts: TextStore;
  socket: Socket | null;
}

const LiveContext = createContext<Live>({ connected: false, problem: null, texts: new TextStore(), socket: null });

export function useLive(): Live {
  return useContext(LiveContext);
}

export function useJobText(jobId: string): string {
  const { texts } = useLive();
  return useSyncExternalStore(texts.subscribe, () => texts.get(jobId));
}

interface ProgressEvent {
  job_id: string;
  text: string;
  offset: number;
  percent?: number;
  message?: string;
  [field: string]: unknown;
}

export function handleJobUpdate(client: QueryClient, texts: TextStore, status: JobStatus): void {
  client.setQueryData(["job", status.job_id], status);
  const text = (status.progress as { text?: string }).text;
  if (text) texts.catchUp(status.job_id, text);
  void client.invalidateQueries({ queryKey: ["jobs"] });
  void client.invalidateQueries({ queryKey: ["stats"] });
  if (status.status === "completed" && status.job_type === "training") {
    void client.invalidateQueries({ queryKey: ["settings"] }); // a new active model
    void client.invalidateQueries({ queryKey: ["models"] });
  }
  if (status.status === "completed" && status.job_type.startsWith("model.")) {
    void client.invalidateQueries({ queryKey: ["models"] });
  }
}

export function handleJobProgress(client: QueryClient, texts: TextStore, event: ProgressEvent): void {
  const { job_id: jobId, text, offset, ...fields } = event;
  if (text && !texts.apply(jobId, offset, text)) {
    void client.invalidateQueries({ queryKey: ["job", jobId] }); // missed a chunk: the status has it all
  }
  client.setQueryData<JobStatus>(["job", jobId], (old) =>
    old ? { ...old, progress: { ...old.progress, ...fields } } : old,
  );
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
    connection.on("job:update", (status: JobStatus) => handleJobUpdate(client, texts, status));
    connection.on("job:progress", (event: ProgressEvent) => handleJobProgress(client, texts, event));
    connection.on("lock:update", (lock: GpuLock) => client.setQueryData(["lock"], lock));
    setSocket(connection);
    return () => {
      connection.close();
    };
  }, [token, client, texts]);

  const value = useMemo(() => ({ connected, problem, texts, socket }), [connected, problem, texts, socket]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}
