// DELETE /api/ai-agent/admin/keys/{id} — the key stops working at once.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useApi, type Fetch } from "../../../lib/api-client";
import { keysKey } from "./get-keys";

export function revokeKey(call: Fetch, id: number): Promise<unknown> {
  return call(`/api/ai-agent/admin/keys/${id}`, { method: "DELETE" });
}

export function useRevokeKey() {
  const call = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => revokeKey(call, id),
    onSuccess: () => void client.invalidateQueries({ queryKey: keysKey() }),
  });
}
