// GET /api/locks/history — every resource lease and how it ended (released, expired, force_released).
import { queryOptions, useQuery } from "@tanstack/react-query";
import { useApi, type Fetch } from "../../../lib/api-client";
import type { History } from "./get-gpu-history";

export const leaseHistoryKey = () => ["lease-history"] as const;

export function getLeaseHistory(call: Fetch): Promise<History> {
  return call("/api/locks/history?limit=50") as Promise<History>;
}

export function leaseHistoryQueryOptions(call: Fetch) {
  return queryOptions({ queryKey: leaseHistoryKey(), queryFn: () => getLeaseHistory(call) });
}

export function useLeaseHistory() {
  return useQuery(leaseHistoryQueryOptions(useApi()));
}
