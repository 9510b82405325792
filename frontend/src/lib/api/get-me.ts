// GET /api/ai-agent/me — who the key or token belongs to. Signing in checks a key with it; the app
// reads it for the user's name and whether to offer the Admin tab.
import { queryOptions, useQuery } from "@tanstack/react-query";
import { useApi, type Fetch, type Schemas } from "../api-client";

export type Me = Schemas["Me"];

export const meKey = () => ["me"] as const;

export function getMe(call: Fetch): Promise<Me> {
  return call("/api/ai-agent/me") as Promise<Me>;
}

export function meQueryOptions(call: Fetch) {
  return queryOptions({ queryKey: meKey(), queryFn: () => getMe(call) });
}

export function useMe() {
  return useQuery(meQueryOptions(useApi()));
}
