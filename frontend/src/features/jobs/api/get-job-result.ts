// GET /api/ai-agent/job/{id}/result — what a completed job produced (it never changes after).
import { queryOptions, useQuery } from "@tanstack/react-query";
import { useApi, type Fetch, type Schemas } from "../../../lib/api-client";

export type JobResult = Schemas["JobResult"];

export const jobResultKey = (jobId: string) => ["result", jobId] as const;

export function getJobResult(call: Fetch, jobId: string): Promise<JobResult> {
  return call(`/api/ai-agent/job/${jobId}/result`) as Promise<JobResult>;
}

export function jobResultQueryOptions(call: Fetch, jobId: string) {
  return queryOptions({ queryKey: jobResultKey(jobId), queryFn: () => getJobResult(call, jobId), staleTime: Infinity });
}

export function useJobResult(jobId: string) {
  return useQuery(jobResultQueryOptions(useApi(), jobId));
}
