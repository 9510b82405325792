// POST /api/ai-agent/jobs — queue any registered job type with its own request fields.
import { useMutation } from "@tanstack/react-query";
import { post, useApi, type Fetch, type JobAccepted, type Schemas } from "../../../lib/api-client";

export type SubmitJob = Schemas["SubmitJob"];

export function submitJob(call: Fetch, body: SubmitJob): Promise<JobAccepted> {
  return post(call, "/api/ai-agent/jobs", body) as Promise<JobAccepted>;
}

export function useSubmitJob() {
  const call = useApi();
  return useMutation({ mutationFn: (body: SubmitJob) => submitJob(call, body) });
}
