// GET /api/ai-agent/admin/keys — every API key (its prefix only), whose it is, whether revoked.
import { queryOptions, useQuery } from "@tanstack/react-query";
import { useApi, type Fetch, type Schemas } from "../../../lib/api-client";

export type KeyView = Schemas["KeyInfo"];

export const keysKey = () => ["keys"] as const;

export function getKeys(call: Fetch): Promise<KeyView[]> {
  return call("/api/ai-agent/admin/keys") as Promise<KeyView[]>;
}

export function keysQueryOptions(call: Fetch) {
  return queryOptions({ queryKey: keysKey(), queryFn: () => getKeys(call) });
}

export function useKeys() {
  return useQuery(keysQueryOptions(useApi()));
}
