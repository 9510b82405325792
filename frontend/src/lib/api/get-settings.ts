// GET /api/ai-agent/settings — the service's settings, among them the active model (the one a request
// that names no model uses; a deployed training run changes it).
import { queryOptions, useQuery } from "@tanstack/react-query";
import { useApi, type Fetch, type Schemas } from "../api-client";

export type Settings = Schemas["SettingsOut"];

export const settingsKey = () => ["settings"] as const;

export function getSettings(call: Fetch): Promise<Settings> {
  return call("/api/ai-agent/settings") as Promise<Settings>;
}

export function settingsQueryOptions(call: Fetch) {
  return queryOptions({ queryKey: settingsKey(), queryFn: () => getSettings(call), staleTime: 30_000 });
}

export function useSettings() {
  return useQuery(settingsQueryOptions(useApi()));
}
