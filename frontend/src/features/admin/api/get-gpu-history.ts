// GET /api/ai-agent/lock/history — who used the GPU slots, for what, and how each use ended.
import { queryOptions, useQuery } from "@tanstack/react-query";
import { useApi, type Fetch, type Schemas } from "../../../lib/api-client";

export type History = Schemas["History"];

export const gpuHistoryKey = () => ["gpu-history"] as const;

export function getGpuHistory(call: Fetch): Promise<History> {
  return call("/api/ai-agent/lock/history?limit=50") as Promise<History>;
}

export function gpuHistoryQueryOptions(call: Fetch) {
  return queryOptions({ queryKey: gpuHistoryKey(), queryFn: () => getGpuHistory(call) });
}

export function useGpuHistory() {
  return useQuery(gpuHistoryQueryOptions(useApi()));
}
