// POST /api/ai-agent/reports — queue a report written section by section.
import { useMutation } from "@tanstack/react-query";
import { post, useApi, type Fetch, type JobAccepted } from "../../../lib/api-client";

export interface ReportSection {
  heading: string;
  instructions: string;
}

export interface ReportRequest {
  title: string;
  /** Shown to others in the lock banner while it runs, e.g. "Case: ACME Breach (ID: 5)". */
  details?: string;
  sections: ReportSection[];
}

export function createReport(call: Fetch, body: ReportRequest): Promise<JobAccepted> {
  return post(call, "/api/ai-agent/reports", body) as Promise<JobAccepted>;
}

export function useCreateReport() {
  const call = useApi();
  return useMutation({ mutationFn: (body: ReportRequest) => createReport(call, body) });
}
