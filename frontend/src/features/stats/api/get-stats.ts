// GET /api/ai-agent/jobs/stats — counts by state and type, success rate, wait and run times.
import { queryOptions, useQuery } from "@tanstack/react-query";
import { useApi, type Fetch, type Schemas } from "../../../lib/api-client";
import { pollEvery, useLive } from "../../../lib/live";

export type JobStats = Schemas["JobStats"];

export const statsKeys = {
  all: ["stats"] as const,
  /** `everyone`: all users' jobs (admins), else the signed-in user's. */
  scope: (everyone: boolean) => ["stats", everyone] as const,
};

export function getStats(call: Fetch, everyone: boolean): Promise<JobStats> {
  return call(`/api/ai-agent/jobs/stats${everyone ? "?all=true" : ""}`) as Promise<JobStats>;
}

export function statsQueryOptions(call: Fetch, everyone: boolean, connected: boolean) {
  return queryOptions({
    queryKey: statsKeys.scope(everyone),
    queryFn: () => getStats(call, everyone),
    refetchInterval: pollEvery(connected, 60_000),
  });
}

export function useStats(everyone: boolean) {
  const call = useApi();
  const { connected } = useLive();
  return useQuery(statsQueryOptions(call, everyone, connected));
}
