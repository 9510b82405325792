// POST /api/locks/{key}/force-release — an admin frees a resource lease now, whoever holds it.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { post, useApi, type Fetch, type Schemas } from "../../../lib/api-client";
import { leasesKey } from "./get-leases";

export type ForceReleased = Schemas["ForceReleased"];

export function forceReleaseLease(call: Fetch, key: string): Promise<ForceReleased> {
  return post(call, `/api/locks/${key}/force-release`) as Promise<ForceReleased>;
}

export function useForceReleaseLease() {
  const call = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (key: string) => forceReleaseLease(call, key),
    onSuccess: () => void client.invalidateQueries({ queryKey: leasesKey() }),
  });
}
