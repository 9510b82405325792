// DELETE /api/ai-agent/hosts/{name} — an admin removes a host. The server refuses (409, with a message
// saying why) while the host still has work; the message is what the admin sees.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useApi, type Fetch } from "../../../lib/api-client";
import { lockKey } from "../../../lib/api/get-lock";
import { hostsKey } from "./get-hosts";

export function removeHost(call: Fetch, name: string): Promise<unknown> {
  return call(`/api/ai-agent/hosts/${encodeURIComponent(name)}`, { method: "DELETE" });
}

export function useRemoveHost() {
  const call = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => removeHost(call, name),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: hostsKey() });
      void client.invalidateQueries({ queryKey: lockKey() }); // the GPU's capacity counts the host's slots
    },
  });
}
