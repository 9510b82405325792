import { useId, useState, type FormEvent } from "react";
import { ErrorNote } from "../../../components/States";
import { SubmitButton } from "../../../components/SubmitButton";
import type { JobAccepted } from "../../../lib/api-client";
import type { JobType } from "../../../lib/api/get-job-types";
import { useSubmitJob } from "../api/submit-job";

/** For a type the page has no form of its own for: its request as JSON, checked here before sending
 *  (the server checks the fields and says which one is wrong). */
export function GenericJobForm({ jobType, onDone }: { jobType: JobType; onDone: (answer: JobAccepted) => void }) {
  const id = useId();
  const [request, setRequest] = useState("{}");
  const [problem, setProblem] = useState<string | null>(null);
  const submit = useSubmitJob();
  const send = (event: FormEvent) => {
    event.preventDefault();
    const parsed = parseObject(request);
    setProblem(typeof parsed === "string" ? parsed : null);
    if (typeof parsed !== "string") submit.mutate({ job_type: jobType.job_type, request: parsed }, { onSuccess: onDone });
  };
  return (
    <form onSubmit={send}>
      {jobType.description && <p className="muted small">{jobType.description}</p>}
      <label htmlFor={id}>
        Request (JSON)
        <textarea
          id={id}
          className="code"
          rows={6}
          required
          spellCheck={false}
          value={request}
          onChange={(e) => setRequest(e.target.value)}
        />
      </label>
      <SubmitButton pending={submit.isPending} label="Queue the job" />
      {problem && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
      {submit.isError && <ErrorNote error={submit.error} />}
    </form>
  );
}

/** The request object, or what is wrong with the text. */
function parseObject(text: string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `That is not JSON: ${(error as Error).message}`;
  }
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : "The request must be a JSON object: { … }.";
}
