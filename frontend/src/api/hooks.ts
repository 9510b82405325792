import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { createContext, useContext, useEffect } from "react";
import { POLL_MS, useLive } from "../live/LiveProvider";
import type { Api, JobStatus } from "./client";

export const ApiContext = createContext<Api | null>(null);

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error("useApi outside ApiContext");
  return api;
}

export const TERMINAL = new Set(["completed", "failed", "cancelled"]);

/** Poll only while the socket is down (or, slowly, as a safety net while it is up). */
function interval(connected: boolean, slow = 30_000): number {
  return connected ? slow : POLL_MS;
}

export function useLock() {
  const api = useApi();
  const { connected } = useLive();
  return useQuery({ queryKey: ["lock"], queryFn: api.lock, refetchInterval: interval(connected) });
}

export function useJob(jobId: string) {
  const api = useApi();
  const { connected, texts } = useLive();
  const query = useQuery({
    queryKey: ["job", jobId],
    queryFn: () => api.status(jobId),
    refetchInterval: (q) => {
      const status = (q.state.data as JobStatus | undefined)?.status;
      return status && TERMINAL.has(status) ? false : interval(connected);
    },
  });
  const polledText = (query.data?.progress as { text?: string } | undefined)?.text;
  useEffect(() => {
    if (polledText) texts.catchUp(jobId, polledText);
  }, [jobId, polledText, texts]);
  return query;
}

/** Jobs newest first, a page at a time (`fetchNextPage` follows the API's cursor). */
export function useJobs(filters: { status?: string; type?: string; all?: boolean }) {
  const api = useApi();
  const { connected } = useLive();
  return useInfiniteQuery({
    queryKey: ["jobs", filters],
    queryFn: ({ pageParam }) => api.jobs({ ...filters, cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => page.next_cursor ?? undefined,
    refetchInterval: interval(connected, 60_000),
  });
}

export function useStats(all = false) {
  const api = useApi();
  const { connected } = useLive();
  return useQuery({ queryKey: ["stats", all], queryFn: () => api.stats(all), refetchInterval: interval(connected, 60_000) });
}

export function useModels() {
  const api = useApi();
  return useQuery({ queryKey: ["models"], queryFn: api.models, staleTime: 30_000 });
}

export function useSettings() {
  const api = useApi();
  return useQuery({ queryKey: ["settings"], queryFn: api.settings, staleTime: 30_000 });
}
