// POST /api/ai-agent/training — fine-tune a base model on examples; the run holds the GPU and, when it
// succeeds, deploys the new model as the active one.
import { useMutation } from "@tanstack/react-query";
import { post, useApi, type Fetch, type JobAccepted, type Schemas } from "../../../lib/api-client";

export type StartTraining = Schemas["StartTraining"];

export function startTraining(call: Fetch, body: StartTraining): Promise<JobAccepted> {
  return post(call, "/api/ai-agent/training", body) as Promise<JobAccepted>;
}

export function useStartTraining() {
  const call = useApi();
  return useMutation({ mutationFn: (body: StartTraining) => startTraining(call, body) });
}
