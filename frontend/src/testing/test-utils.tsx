import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { ApiContext, ApiError, type Fetch } from "../lib/api-client";
import type { JobView } from "../lib/api/get-job-status";
import { JOB_TYPES } from "./job-types";

/** A fake server route: gets the query string and the JSON body, returns the response body (or throws). */
export type Route = (query: Record<string, string>, body: unknown) => unknown;
/** Routes by "METHOD /path" (the path without its query string). */
export type Routes = Record<string, Route>;

/** A fake API answering only `routes` (plus GET /api/ai-agent/job-types); anything else is a 404. */
export function fakeApi(routes: Routes): Fetch {
  const all: Routes = { "GET /api/ai-agent/job-types": () => ({ job_types: JOB_TYPES }), ...routes };
  return async (path, init = {}) => {
    const url = new URL(path, "http://aijobs.test");
    const route = all[`${init.method ?? "GET"} ${url.pathname}`];
    if (!route) throw new ApiError(404, "not_found", `No fake route for ${init.method ?? "GET"} ${url.pathname}`);
    return route(Object.fromEntries(url.searchParams), typeof init.body === "string" ? JSON.parse(init.body) : undefined);
  };
}

/** Render with a fresh QueryClient and a fake API. */
export function renderWith(ui: ReactNode, routes: Routes = {}, client = new QueryClient({ defaultOptions: { queries: { retry: false } } })) {
  return {
    client,
    ...render(
      <QueryClientProvider client={client}>
        <ApiContext.Provider value={fakeApi(routes)}>{ui}</ApiContext.Provider>
      </QueryClientProvider>,
    ),
  };
}

/** A job's status, as GET …/status answers it: a running report unless `overrides` say otherwise. */
export function jobStatus(overrides: Partial<JobView> = {}): JobView {
  return {
    job_id: "j1",
    job_type: "report",
    status: "running",
    progress: { percent: 50, message: "section 2 of 4: Findings", text: "## Summary\nAll calm" },
    position: null,
    eta_seconds: null,
    waiting_for: [],
    retry_count: 0,
    max_retries: 3,
    attempt: 1,
    error_message: null,
    error_kind: null,
    details: "Case: ACME Breach (ID: 5)",
    username: "alice",
    created_at: "2026-11-23T10:00:00Z",
    started_at: "2026-11-23T10:00:01Z",
    finished_at: null,
    ...overrides,
  };
}
