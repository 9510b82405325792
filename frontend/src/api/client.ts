// Typed calls to the aijobs API. The types come from the server's OpenAPI schema
// (`npm run api-types` regenerates src/api/schema.ts from openapi.json), so a renamed field breaks the build.
import type { components } from "./schema";

export type Schemas = components["schemas"];
export type JobStatus = Schemas["JobStatus"];
export type JobAccepted = Schemas["JobAccepted"];
export type JobList = Schemas["JobList"];
export type JobStats = Schemas["JobStats"];
export type GpuLock = Schemas["GpuLockView"];
export type LockHolder = Schemas["LockHolder"];
export type Me = Schemas["Me"];
export type HistoryEntry = Schemas["HistoryEntry"];
export type UserView = Schemas["UserView"];
export type KeyView = Schemas["KeyView"];
export type IssuedKey = Schemas["IssuedKeyView"];
export type Settings = Schemas["SettingsOut"];
export type JobResult = Schemas["JobResult"];

export interface ModelEntry {
  name: string;
  size?: number;
  loaded: boolean;
  size_vram?: number | null;
  expires_at?: string | null;
}

/** The API's one error shape: {"error": {"code", "message", "details"}}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export type Fetch = (path: string, init?: RequestInit) => Promise<unknown>;

export function createClient(token: string, base = ""): Fetch {
  return async (path, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${token}`);
    if (init.body && typeof init.body === "string" && !headers.has("Content-Type")) {
      headers.set("Content-Type", "application/json");
    }
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, { ...init, headers });
    } catch {
      throw new ApiError(0, "network", "Cannot reach the aijobs server. Is it running?");
    }
    const text = await response.text();
    const body = text ? safeJson(text) : null;
    if (!response.ok) {
      const error = (body as { error?: { code: string; message: string; details?: Record<string, unknown> } })?.error;
      throw new ApiError(
        response.status,
        error?.code ?? "http_error",
        error?.message ?? `${response.status} ${response.statusText}`,
        error?.details ?? {},
      );
    }
    return body;
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The calls the page makes, each with its schema type. */
export function endpoints(call: Fetch) {
  const post = (path: string, body?: unknown) =>
    call(path, { method: "POST", body: body === undefined ? undefined : JSON.stringify(body) });
  return {
    me: () => call("/api/ai-agent/me") as Promise<Me>,
    lock: () => call("/api/ai-agent/lock") as Promise<GpuLock>,
    lockHistory: () => call("/api/ai-agent/lock/history?limit=50") as Promise<Schemas["History"]>,
    forceReleaseGpu: () => post("/api/ai-agent/lock/force-release"),
    jobs: (filters: { status?: string; type?: string; all?: boolean; cursor?: string }) => {
      const query = new URLSearchParams({ limit: "50" });
      if (filters.status) query.set("status", filters.status);
      if (filters.type) query.set("type", filters.type);
      if (filters.all) query.set("all", "true");
      if (filters.cursor) query.set("cursor", filters.cursor);
      return call(`/api/ai-agent/jobs?${query}`) as Promise<JobList>;
    },
    stats: (all = false) => call(`/api/ai-agent/jobs/stats${all ? "?all=true" : ""}`) as Promise<JobStats>,
    status: (id: string) => call(`/api/ai-agent/job/${id}/status`) as Promise<JobStatus>,
    result: (id: string) => call(`/api/ai-agent/job/${id}/result`) as Promise<JobResult>,
    cancel: (id: string) => post(`/api/ai-agent/job/${id}/cancel`) as Promise<Schemas["CancelResponse"]>,
    retry: (id: string) => post(`/api/ai-agent/job/${id}/retry`) as Promise<Schemas["RetryResponse"]>,
    submit: (body: Schemas["SubmitJob"]) => post("/api/ai-agent/jobs", body) as Promise<JobAccepted>,
    canvas: (body: Record<string, unknown>) => post("/api/ai-agent/create-canvas", body) as Promise<JobAccepted>,
    report: (body: Record<string, unknown>) => post("/api/ai-agent/reports", body) as Promise<JobAccepted>,
    train: (body: Schemas["StartTraining"]) => post("/api/ai-agent/training", body) as Promise<JobAccepted>,
    settings: () => call("/api/ai-agent/settings") as Promise<Settings>,
    models: () => call("/api/v1/models/list") as Promise<{ models: ModelEntry[]; count: number }>,
    loadModel: (model: string) => post("/api/v1/models/load", { model }),
    unloadModel: (model: string) => call(`/api/v1/models/${model}/unload`, { method: "DELETE" }),
    leases: () => call("/api/locks") as Promise<Schemas["LeaseList"]>,
    leaseHistory: () => call("/api/locks/history?limit=50") as Promise<Schemas["History"]>,
    forceReleaseLease: (key: string) => post(`/api/locks/${key}/force-release`),
    users: () => call("/api/ai-agent/admin/users") as Promise<UserView[]>,
    keys: () => call("/api/ai-agent/admin/keys") as Promise<KeyView[]>,
    createUser: (username: string, isAdmin: boolean) =>
      post("/api/ai-agent/admin/users", { username, admin: isAdmin } satisfies Schemas["CreateUser"]) as Promise<IssuedKey>,
    revokeKey: (id: number) => call(`/api/ai-agent/admin/keys/${id}`, { method: "DELETE" }),
  };
}

export type Api = ReturnType<typeof endpoints>;
