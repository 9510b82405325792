// GET /api/ai-agent/hosts — every GPU host (one Ollama server each): its state, its slots and who runs
// what on them, the models it has loaded, and what each model has been learned to cost there.
// Typed by hand: the endpoint is newer than frontend/openapi.json. Once it is in the schema, these
// types can become Schemas["…"] like the others.
import { queryOptions, useQuery } from "@tanstack/react-query";
import { ApiError, useApi, type Fetch } from "../../../lib/api-client";
import { POLL_MS } from "../../../lib/live";

/** `draining`: finishes what runs, takes nothing new; `down`: the prober cannot reach it. */
export type HostState = "up" | "down" | "draining";

export interface LoadedModel {
  name: string;
  /** Bytes of GPU memory the loaded model takes (null: Ollama did not say). */
  size: number | null;
  /** When Ollama unloads it if nothing uses it; null: kept. */
  expires_at: string | null;
}

/** A job holding one of the host's slots. */
export interface RunningJob {
  /** The slot's number on the host (0, 1, …); a lease key (`gpu/<host>/<n>`) is read the same way. */
  slot: number | string | null;
  job_id: string | null;
  username: string | null;
  operation: string | null;
  model: string | null;
  since: string;
}

/** What one model has been learned to cost on one host. */
export interface ModelCost {
  model: string;
  loads: number;
  /** Typical seconds to load it (null until it has been loaded once). */
  load_seconds: number | null;
  /** Typical seconds a job with it runs. */
  run_seconds: number | null;
  tokens_per_second: number | null;
  jobs: number;
  failures: number;
  loading_seconds_total: number;
  busy_seconds_total: number;
}

export interface Host {
  name: string;
  /** Null for non-admins. */
  base_url: string | null;
  slots: number;
  /** Bytes; null when not configured. */
  gpu_memory: number | null;
  labels: string[];
  state: HostState;
  reachable: boolean;
  draining: boolean;
  /** Ollama's version, as the prober last saw it. */
  version: string | null;
  probed_at: string | null;
  loaded: LoadedModel[];
  running: RunningJob[];
  /** Queued jobs whose model is already loaded here. */
  queued_warm: number;
  costs: ModelCost[];
}

export interface Fleet {
  scheduler: "placement" | "fifo";
  /** How long a job may be passed over for one whose model is loaded (placement only). */
  max_bypass_seconds: number;
  hosts: Host[];
}

/** The one host of a deployment that configures none (OLLAMA_BASE_URL). */
export const DEFAULT_HOST = "default";

/** A slot's lease key, as the GPU slots and the lock name it: `gpu/<host>/<n>`; the default host's `gpu/<n>`. */
export function slotKey(host: string, slot: number): string {
  return host === DEFAULT_HOST ? `gpu/${slot}` : `gpu/${host}/${slot}`;
}

/** A running job's slot number, whether the server gives the number or the lease key (NaN: neither). */
export function slotNumber(slot: RunningJob["slot"]): number {
  if (typeof slot === "number") return slot;
  if (typeof slot === "string") return Number(slot.slice(slot.lastIndexOf("/") + 1));
  return Number.NaN;
}

export const hostsKey = () => ["hosts"] as const;

export function getHosts(call: Fetch): Promise<Fleet> {
  return call("/api/ai-agent/hosts") as Promise<Fleet>;
}

/** A server without the endpoint (older than the page) answers 404: the page shows no fleet. */
export function isMissing(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404;
}

export function hostsQueryOptions(call: Fetch) {
  return queryOptions({
    queryKey: hostsKey(),
    queryFn: () => getHosts(call),
    // Hosts go down, come up and load models without any event saying so: look every few seconds
    // (socket events about the lock and jobs refetch sooner). Not at a server without the endpoint.
    refetchInterval: (query) => (isMissing(query.state.error) ? false : POLL_MS),
  });
}

export function useHosts() {
  return useQuery(hostsQueryOptions(useApi()));
}
