// GET /api/ai-agent/lock — who holds each GPU slot, doing what, since when, and how many jobs wait.
// Shared: the lock banner and the admin's GPU slots read it; `lock:update` events and submissions write it.
import { queryOptions, useQuery } from "@tanstack/react-query";
import { useApi, type Fetch, type Schemas } from "../api-client";
import { pollEvery, useLive } from "../live";

export type GpuLock = Schemas["GpuLockView"];
export type LockHolder = Schemas["LockHolder"];

export const lockKey = () => ["lock"] as const;

export function getLock(call: Fetch): Promise<GpuLock> {
  return call("/api/ai-agent/lock") as Promise<GpuLock>;
}

export function lockQueryOptions(call: Fetch, connected: boolean) {
  return queryOptions({ queryKey: lockKey(), queryFn: () => getLock(call), refetchInterval: pollEvery(connected) });
}

export function useLock() {
  const call = useApi();
  const { connected } = useLive();
  return useQuery(lockQueryOptions(call, connected));
}

/** The slot number of a holder's key (`gpu/0` → 0), as force-release takes it. */
export function slotOf(holder: Pick<LockHolder, "key">): number {
  return Number(holder.key.slice(holder.key.lastIndexOf("/") + 1));
}
