// POST /api/ai-agent/hosts/{name}/resume — an admin puts a drained host back to work.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { post, useApi, type Fetch } from "../../../lib/api-client";
import { hostsKey } from "./get-hosts";

export function resumeHost(call: Fetch, name: string): Promise<unknown> {
  return post(call, `/api/ai-agent/hosts/${encodeURIComponent(name)}/resume`);
}

export function useResumeHost() {
  const call = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => resumeHost(call, name),
    onSuccess: () => void client.invalidateQueries({ queryKey: hostsKey() }),
  });
}
