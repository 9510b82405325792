// GET /api/locks — leases held on other resources (a folder, a dataset); the GPU slots are not among
// them (those are GET /api/ai-agent/lock).
import { queryOptions, useQuery } from "@tanstack/react-query";
import { useApi, type Fetch, type Schemas } from "../../../lib/api-client";

export type LeaseList = Schemas["LeaseList"];

export const leasesKey = () => ["leases"] as const;

export function getLeases(call: Fetch): Promise<LeaseList> {
  return call("/api/locks") as Promise<LeaseList>;
}

export function leasesQueryOptions(call: Fetch) {
  // Leases lapse on their own (no event says so): look again every few seconds.
  return queryOptions({ queryKey: leasesKey(), queryFn: () => getLeases(call), refetchInterval: 5000 });
}

export function useLeases() {
  return useQuery(leasesQueryOptions(useApi()));
}
