// GET /api/v1/models/list — the models Ollama has, and which are loaded. Shared: the model pickers of
// the submit and training forms, and the admin's model panel.
import { queryOptions, useQuery } from "@tanstack/react-query";
import { useApi, type Fetch } from "../api-client";

export interface ModelEntry {
  name: string;
  size?: number;
  loaded: boolean;
  size_vram?: number | null;
  expires_at?: string | null;
}

export interface ModelList {
  models: ModelEntry[];
  count: number;
}

export const modelsKey = () => ["models"] as const;

export function getModels(call: Fetch): Promise<ModelList> {
  return call("/api/v1/models/list") as Promise<ModelList>;
}

export function modelsQueryOptions(call: Fetch) {
  return queryOptions({ queryKey: modelsKey(), queryFn: () => getModels(call), staleTime: 30_000 });
}

export function useModels() {
  return useQuery(modelsQueryOptions(useApi()));
}
