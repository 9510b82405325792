// GET /api/ai-agent/jobs — jobs newest first, a page at a time (the API's cursor), filtered by status and type.
import { infiniteQueryOptions, useInfiniteQuery } from "@tanstack/react-query";
import { useApi, type Fetch, type Schemas } from "../../../lib/api-client";
import { pollEvery, useLive } from "../../../lib/live";

export type JobList = Schemas["JobList"];

export interface JobFilters {
  status?: string;
  type?: string;
  /** Everyone's jobs (admins). */
  all?: boolean;
}

export const jobsKeys = {
  all: ["jobs"] as const,
  list: (filters: JobFilters) => ["jobs", filters] as const,
};

export function getJobs(call: Fetch, filters: JobFilters, cursor?: string): Promise<JobList> {
  const query = new URLSearchParams({ limit: "50" });
  if (filters.status) query.set("status", filters.status);
  if (filters.type) query.set("type", filters.type);
  if (filters.all) query.set("all", "true");
  if (cursor) query.set("cursor", cursor);
  return call(`/api/ai-agent/jobs?${query}`) as Promise<JobList>;
}

export function jobsQueryOptions(call: Fetch, filters: JobFilters, connected: boolean) {
  return infiniteQueryOptions({
    queryKey: jobsKeys.list(filters),
    queryFn: ({ pageParam }) => getJobs(call, filters, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => page.next_cursor ?? undefined,
    refetchInterval: pollEvery(connected, 60_000),
  });
}

export function useJobs(filters: JobFilters) {
  const call = useApi();
  const { connected } = useLive();
  return useInfiniteQuery(jobsQueryOptions(call, filters, connected));
}
