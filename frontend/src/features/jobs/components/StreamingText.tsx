import Markdown from "react-markdown";
import type { ResultKind } from "../../../lib/api/get-job-types";

/** A running job's text so far: Markdown (a report) is rendered as it streams, anything else verbatim. */
export function StreamingText({ text, kind }: { text: string; kind: ResultKind }) {
  if (kind === "markdown") {
    return (
      <article className="markdown stream-markdown" data-testid="job-text" aria-live="polite">
        <Markdown>{text}</Markdown>
      </article>
    );
  }
  return (
    <pre className="stream" data-testid="job-text" aria-live="polite">
      {text}
    </pre>
  );
}
