// GET /api/ai-agent/job-types — the job types the server runs: what to call each, how to show its
// result, whether people may submit it. The page keeps no list of its own.
import { queryOptions, useQuery } from "@tanstack/react-query";
import { useApi, type Fetch, type Schemas } from "../api-client";

export type JobType = Schemas["JobTypeView"];
export type JobTypeList = Schemas["JobTypes"];
/** How a job type's result is shown. */
export type ResultKind = JobType["result_kind"];

export const jobTypesKey = () => ["job-types"] as const;

export function getJobTypes(call: Fetch): Promise<JobTypeList> {
  return call("/api/ai-agent/job-types") as Promise<JobTypeList>;
}

export function jobTypesQueryOptions(call: Fetch) {
  // The server's job types change only with a deploy.
  return queryOptions({ queryKey: jobTypesKey(), queryFn: () => getJobTypes(call), staleTime: Infinity });
}

export function useJobTypes() {
  return useQuery({ ...jobTypesQueryOptions(useApi()), select: (list) => list.job_types });
}

/** A type the server did not describe (or not yet): shown by its name, its result as JSON. */
export function unknownJobType(jobType: string): JobType {
  return {
    job_type: jobType,
    label: jobType,
    operation: jobType,
    description: "",
    result_kind: "json",
    submittable: false,
    default_max_retries: 0,
    default_timeout_seconds: null,
  };
}

export function findJobType(types: JobType[] | undefined, jobType: string): JobType {
  return types?.find((entry) => entry.job_type === jobType) ?? unknownJobType(jobType);
}

/** One job type's description; `isPending` while the list loads. */
export function useJobType(jobType: string): { type: JobType; isPending: boolean } {
  const types = useJobTypes();
  return { type: findJobType(types.data, jobType), isPending: types.isPending };
}
