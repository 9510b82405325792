import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Markdown from "react-markdown";
import { TERMINAL, useApi, useJob } from "../api/hooks";
import { useJobText } from "../live/LiveProvider";
import { longest } from "../live/text";
import { duration, JOB_TYPE_NAMES } from "../format";
import { CanvasDiagram, type DiagramEdge, type DiagramNode } from "./CanvasDiagram";
import { ErrorNote, Loading } from "./States";

/** One job: status, progress, the text as it streams, then the result. */
export function JobView({ jobId, onClose }: { jobId: string; onClose?: () => void }) {
  const job = useJob(jobId);
  const liveText = useJobText(jobId);
  if (job.isPending) return <Loading what="the job" />;
  if (job.isError) return <ErrorNote error={job.error} retry={() => job.refetch()} />;
  const status = job.data;
  const progress = status.progress as { percent?: number; message?: string; text?: string; log_tail?: string[] };
  const text = longest(liveText, progress.text);
  const percent = Math.round(progress.percent ?? (status.status === "completed" ? 100 : 0));
  return (
    <section className="card job-view" aria-labelledby="job-title" data-testid="job-view" data-status={status.status}>
      <header className="row">
        <h2 id="job-title">
          {JOB_TYPE_NAMES[status.job_type] ?? status.job_type}
          {status.details ? ` · ${status.details}` : ""}
        </h2>
        {onClose && (
          <button type="button" className="link" onClick={onClose} aria-label="Close the job">
            ✕
          </button>
        )}
      </header>
      <p className="row">
        <span className={`badge badge-${status.status}`} data-testid="job-status">
          {status.status}
        </span>
        {status.status === "queued" && status.position !== null && status.position !== undefined && (
          <span>
            position {status.position + 1}
            {status.eta_seconds ? ` · starts in ~${Math.round(status.eta_seconds)} s` : ""}
          </span>
        )}
        {(status.waiting_for ?? []).length > 0 && <span>waiting for {(status.waiting_for ?? []).join(", ")}</span>}
        {status.retry_count > 0 && (
          <span>
            retry {status.retry_count} of {status.max_retries}
          </span>
        )}
      </p>
      {!TERMINAL.has(status.status) || status.status === "completed" ? (
        <div className="progress" aria-label={`Progress ${percent}%`}>
          <div className="progress-bar" style={{ width: `${percent}%` }} data-testid="progress-bar" data-percent={percent} />
          <span className="progress-text">
            {percent}% {progress.message ? `· ${progress.message}` : ""}
          </span>
        </div>
      ) : null}
      {status.error_message && <div className="error" role="alert">{status.error_message}</div>}
      <JobActions status={status.status} jobId={jobId} />
      {status.status === "completed" ? (
        <JobResultView jobId={jobId} jobType={status.job_type} fallbackText={text} />
      ) : (
        text && (
          <pre className="stream" data-testid="job-text" aria-live="polite">
            {text}
          </pre>
        )
      )}
      {progress.log_tail && progress.log_tail.length > 0 && (
        <details>
          <summary>Command output</summary>
          <pre className="stream">{progress.log_tail.join("\n")}</pre>
        </details>
      )}
      <p className="muted small">
        queued {new Date(status.created_at).toLocaleTimeString()}
        {status.started_at && ` · started ${new Date(status.started_at).toLocaleTimeString()}`}
        {status.finished_at &&
          status.started_at &&
          ` · ran ${duration((Date.parse(status.finished_at) - Date.parse(status.started_at)) / 1000)}`}
      </p>
    </section>
  );
}

function JobActions({ status, jobId }: { status: string; jobId: string }) {
  const api = useApi();
  const client = useQueryClient();
  const refresh = () => {
    void client.invalidateQueries({ queryKey: ["job", jobId] });
    void client.invalidateQueries({ queryKey: ["jobs"] });
    void client.invalidateQueries({ queryKey: ["lock"] });
  };
  const cancel = useMutation({ mutationFn: () => api.cancel(jobId), onSuccess: refresh });
  const retry = useMutation({ mutationFn: () => api.retry(jobId), onSuccess: refresh });
  return (
    <div className="row">
      {(status === "queued" || status === "running") && (
        <button type="button" className="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
          {cancel.isPending ? "Cancelling…" : "Cancel"}
        </button>
      )}
      {(status === "failed" || status === "cancelled") && (
        <button type="button" onClick={() => retry.mutate()} disabled={retry.isPending}>
          Retry
        </button>
      )}
      {cancel.isError && <ErrorNote error={cancel.error} />}
      {retry.isError && <ErrorNote error={retry.error} />}
    </div>
  );
}

function JobResultView({ jobId, jobType, fallbackText }: { jobId: string; jobType: string; fallbackText: string }) {
  const api = useApi();
  const result = useQuery({ queryKey: ["result", jobId], queryFn: () => api.result(jobId), staleTime: Infinity });
  if (result.isPending) return <Loading what="the result" />;
  if (result.isError) return <ErrorNote error={result.error} retry={() => result.refetch()} />;
  const data = (result.data.result ?? {}) as Record<string, unknown>;
  if (jobType === "report" && typeof data.markdown === "string") {
    return (
      <article className="markdown" data-testid="job-result">
        <Markdown>{data.markdown}</Markdown>
      </article>
    );
  }
  if (jobType === "canvas" && Array.isArray(data.nodes)) {
    return (
      <div data-testid="job-result">
        <CanvasDiagram
          nodes={data.nodes as DiagramNode[]}
          edges={(data.edges ?? []) as DiagramEdge[]}
          colorScheme={typeof data.colorScheme === "string" ? data.colorScheme : undefined}
        />
      </div>
    );
  }
  if (jobType === "training") {
    return (
      <p data-testid="job-result">
        Deployed <strong>{String(data.model)}</strong> from {String(data.base_model)} on {String(data.examples)} examples.
        Jobs that name no model now use it.
      </p>
    );
  }
  const message = data.message as { content?: string } | undefined;
  const text = (data.response as string | undefined) ?? message?.content ?? fallbackText;
  return (
    <pre className="stream" data-testid="job-result">
      {text || JSON.stringify(data, null, 2)}
    </pre>
  );
}
