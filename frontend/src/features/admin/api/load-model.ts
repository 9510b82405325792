// POST /api/v1/models/load — queue a model.load job: it runs when a GPU slot is free, like any job.
import { useMutation } from "@tanstack/react-query";
import { post, useApi, type Fetch, type JobAccepted } from "../../../lib/api-client";

export function loadModel(call: Fetch, model: string): Promise<JobAccepted> {
  return post(call, "/api/v1/models/load", { model }) as Promise<JobAccepted>;
}

export function useLoadModel() {
  const call = useApi();
  return useMutation({ mutationFn: (model: string) => loadModel(call, model) });
}
