// GET /api/ai-agent/job/{id}/status — one job as the page follows it. Shared: the job view, the note
// under the submit button and the lock banner read this one query, and Socket.IO events write into it.
import { queryOptions, useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { useApi, type Fetch, type Schemas } from "../api-client";
import { isTerminal } from "../job-states";
import { pollEvery, useLive } from "../live";
import { readProgress } from "../progress";

export type JobView = Schemas["JobView"];

export const jobStatusKey = (jobId: string) => ["job", jobId] as const;

export function getJobStatus(call: Fetch, jobId: string): Promise<JobView> {
  return call(`/api/ai-agent/job/${jobId}/status`) as Promise<JobView>;
}

export function jobStatusQueryOptions(call: Fetch, jobId: string, connected: boolean) {
  return queryOptions({
    queryKey: jobStatusKey(jobId),
    queryFn: () => getJobStatus(call, jobId),
    refetchInterval: (query) => (isTerminal(query.state.data?.status) ? false : pollEvery(connected)),
  });
}

export function useJobStatus(jobId: string) {
  const call = useApi();
  const { connected, texts } = useLive();
  const query = useQuery(jobStatusQueryOptions(call, jobId, connected));
  // A polled status carries the text so far: it fills in what the socket missed (or never sent).
  const polledText = readProgress(query.data?.progress).text;
  useEffect(() => {
    if (polledText) texts.catchUp(jobId, polledText);
  }, [jobId, polledText, texts]);
  return query;
}
