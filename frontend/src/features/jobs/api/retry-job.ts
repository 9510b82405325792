// POST /api/ai-agent/job/{id}/retry — a failed or cancelled job goes back to the queue.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { post, useApi, type Fetch, type Schemas } from "../../../lib/api-client";
import { jobStatusKey } from "../../../lib/api/get-job-status";
import { lockKey } from "../../../lib/api/get-lock";
import { jobsKeys } from "./get-jobs";

export function retryJob(call: Fetch, jobId: string): Promise<Schemas["RetryResponse"]> {
  return post(call, `/api/ai-agent/job/${jobId}/retry`) as Promise<Schemas["RetryResponse"]>;
}

export function useRetryJob(jobId: string) {
  const call = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => retryJob(call, jobId),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: jobStatusKey(jobId) });
      void client.invalidateQueries({ queryKey: jobsKeys.all });
      void client.invalidateQueries({ queryKey: lockKey() });
    },
  });
}
