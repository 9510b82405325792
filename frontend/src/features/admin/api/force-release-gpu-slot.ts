// POST /api/ai-agent/lock/force-release?slot=N — an admin frees a GPU slot now; the job holding it is
// cancelled. Answers what it released (one entry per slot).
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { post, useApi, type Fetch, type Schemas } from "../../../lib/api-client";
import { lockKey } from "../../../lib/api/get-lock";

export type ReleasedSlot = Schemas["ForceReleased"];

export function forceReleaseGpuSlot(call: Fetch, slot: number): Promise<ReleasedSlot[]> {
  return post(call, `/api/ai-agent/lock/force-release?slot=${slot}`) as Promise<ReleasedSlot[]>;
}

export function useForceReleaseGpuSlot() {
  const call = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (slot: number) => forceReleaseGpuSlot(call, slot),
    onSuccess: () => void client.invalidateQueries({ queryKey: lockKey() }),
  });
}
