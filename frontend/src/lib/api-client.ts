// The page's one HTTP client: the bearer token, JSON bodies, and the API's error shape as ApiError.
// Response types come from the server's OpenAPI schema (`npm run api-types` regenerates
// src/api/schema.ts from openapi.json), so a renamed field breaks the build.
import { createContext, useContext } from "react";
import type { components } from "../api/schema";

export type Schemas = components["schemas"];
/** The 202 answer of every submission: the job id, its place in the queue, who holds the GPU. */
export type JobAccepted = Schemas["JobAccepted"];

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

/** One authenticated call: the parsed JSON body, or an ApiError. */
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

/** POST with an optional JSON body. */
export function post(call: Fetch, path: string, body?: unknown): Promise<unknown> {
  return call(path, { method: "POST", body: body === undefined ? undefined : JSON.stringify(body) });
}

export const ApiContext = createContext<Fetch | null>(null);

/** The signed-in user's client, for the api/ modules' hooks. */
export function useApi(): Fetch {
  const call = useContext(ApiContext);
  if (!call) throw new Error("useApi outside ApiContext");
  return call;
}
