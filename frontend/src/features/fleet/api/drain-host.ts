// POST /api/ai-agent/hosts/{name}/drain — an admin stops new jobs going to a host; what
// runs there finishes.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { post, useApi, type Fetch } from "../../../lib/api-client";
import { hostsKey } from "./get-hosts";

export function drainHost(call: Fetch, name: string): Promise<unknown> {
  return post(call, `/api/ai-agent/hosts/${encodeURIComponent(name)}/drain`);
}

export function useDrainHost() {
  const call = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => drainHost(call, name),
    onSuccess: () => void client.invalidateQueries({ queryKey: hostsKey() }),
  });
}
