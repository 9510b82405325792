// DELETE /api/v1/models/{name}/unload — queue a model.unload job, freeing the model's GPU memory.
import { useMutation } from "@tanstack/react-query";
import { useApi, type Fetch } from "../../../lib/api-client";

export function unloadModel(call: Fetch, model: string): Promise<unknown> {
  return call(`/api/v1/models/${model}/unload`, { method: "DELETE" });
}

export function useUnloadModel() {
  const call = useApi();
  return useMutation({ mutationFn: (model: string) => unloadModel(call, model) });
}
