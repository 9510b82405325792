// POST /api/ai-agent/job/{id}/cancel — a queued job is cancelled at once, a running one by its worker.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { post, useApi, type Fetch, type Schemas } from "../../../lib/api-client";
import { jobStatusKey } from "../../../lib/api/get-job-status";
import { lockKey } from "../../../lib/api/get-lock";
import { jobsKeys } from "./get-jobs";

export function cancelJob(call: Fetch, jobId: string): Promise<Schemas["CancelResponse"]> {
  return post(call, `/api/ai-agent/job/${jobId}/cancel`) as Promise<Schemas["CancelResponse"]>;
}

export function useCancelJob(jobId: string) {
  const call = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => cancelJob(call, jobId),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: jobStatusKey(jobId) });
      void client.invalidateQueries({ queryKey: jobsKeys.all });
      void client.invalidateQueries({ queryKey: lockKey() });
    },
  });
}
