// POST /api/ai-agent/create-canvas — queue a diagram (the canvas job's fields at the top level).
import { useMutation } from "@tanstack/react-query";
import { post, useApi, type Fetch, type JobAccepted } from "../../../lib/api-client";

export interface CanvasRequest {
  instructions: string;
  style: string;
  colorScheme: string;
}

export function createCanvas(call: Fetch, body: CanvasRequest): Promise<JobAccepted> {
  return post(call, "/api/ai-agent/create-canvas", body) as Promise<JobAccepted>;
}

export function useCreateCanvas() {
  const call = useApi();
  return useMutation({ mutationFn: (body: CanvasRequest) => createCanvas(call, body) });
}
