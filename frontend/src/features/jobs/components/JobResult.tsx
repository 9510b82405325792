import type { ReactNode } from "react";
import Markdown from "react-markdown";
import { ErrorNote, Loading } from "../../../components/States";
import type { ResultKind } from "../../../lib/api/get-job-types";
import { useJobResult } from "../api/get-job-result";
import { CanvasDiagram, type DiagramEdge, type DiagramNode } from "./CanvasDiagram";

type Result = Record<string, unknown>;

/** A completed job's result, shown the way its type's `result_kind` says. */
export function JobResult({ jobId, kind, fallbackText }: { jobId: string; kind: ResultKind; fallbackText: string }) {
  const result = useJobResult(jobId);
  if (result.isPending) return <Loading what="the result" />;
  if (result.isError) return <ErrorNote error={result.error} retry={() => result.refetch()} />;
  return (
    <div data-testid="job-result">
      <ResultBody kind={kind} data={(result.data.result ?? {}) as Result} fallbackText={fallbackText} />
    </div>
  );
}

/** Each kind shows its own fields; null (the fields are missing) falls back to the JSON. A Record, so a
 *  kind added to ResultKind fails the build until it has its view. */
const VIEWS: Record<ResultKind, (data: Result, fallbackText: string) => ReactNode | null> = {
  markdown: (data, fallbackText) => {
    const markdown = typeof data.markdown === "string" ? data.markdown : fallbackText;
    return markdown ? <MarkdownResult markdown={markdown} /> : null;
  },
  diagram: (data) => (Array.isArray(data.nodes) ? <DiagramResult data={data} /> : null),
  text: (data, fallbackText) => {
    const text = textOf(data) ?? fallbackText;
    return text ? <pre className="stream">{text}</pre> : null;
  },
  embeddings: (data) => (Array.isArray(data.embeddings) ? <EmbeddingsResult data={data} /> : null),
  model: (data) => (typeof data.model === "string" ? <ModelResult data={data} /> : null),
  training: (data) => (typeof data.model === "string" ? <TrainingResult data={data} /> : null),
  json: () => null,
};

function ResultBody({ kind, data, fallbackText }: { kind: ResultKind; data: Result; fallbackText: string }) {
  return VIEWS[kind]?.(data, fallbackText) ?? <JsonResult data={data} />;
}

/** Ollama's generate answers in `response`, its chat in `message.content`. */
function textOf(data: Result): string | undefined {
  if (typeof data.response === "string") return data.response;
  const message = data.message as { content?: unknown } | undefined;
  return typeof message?.content === "string" ? message.content : undefined;
}

function MarkdownResult({ markdown }: { markdown: string }) {
  return (
    <article className="markdown">
      <Markdown>{markdown}</Markdown>
    </article>
  );
}

function DiagramResult({ data }: { data: Result }) {
  return (
    <CanvasDiagram
      nodes={data.nodes as DiagramNode[]}
      edges={(data.edges ?? []) as DiagramEdge[]}
      colorScheme={typeof data.colorScheme === "string" ? data.colorScheme : undefined}
    />
  );
}

function EmbeddingsResult({ data }: { data: Result }) {
  const vectors = data.embeddings as unknown[][];
  return (
    <>
      <p>
        {vectors.length} vector{vectors.length === 1 ? "" : "s"} of {vectors[0]?.length ?? 0} dimensions
        {typeof data.model === "string" ? ` from ${data.model}` : ""}.
      </p>
      <details>
        <summary>The vectors</summary>
        <JsonResult data={data} />
      </details>
    </>
  );
}

function ModelResult({ data }: { data: Result }) {
  const outcome = data.status ?? data.done_reason ?? "done";
  return (
    <p>
      <code>{String(data.model)}</code>: {String(outcome)}.
    </p>
  );
}

function TrainingResult({ data }: { data: Result }) {
  return (
    <p>
      Deployed <strong>{String(data.model)}</strong> from {String(data.base_model)} on {String(data.examples)} examples.
      Jobs that name no model now use it.
    </p>
  );
}

function JsonResult({ data }: { data: Result }) {
  return <pre className="stream">{JSON.stringify(data, null, 2)}</pre>;
}
