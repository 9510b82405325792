import { ProgressBar } from "../../../components/ProgressBar";
import { percentDone, tokensText, type Progress } from "../../../lib/progress";

/** The bar of a running or completed job: its percent when it reports one, else an indeterminate bar
 *  with the tokens generated so far, so the user sees it move either way. */
export function JobProgress({ status, progress }: { status: string; progress: Progress }) {
  if (status !== "running" && status !== "completed") return null;
  const percent = percentDone(status, progress);
  // The token count says the job is alive; once it ended it would only be the last section's.
  const tokens = status === "running" ? tokensText(progress.tokens) : null;
  const caption = [percent === null ? null : `${percent}%`, progress.message, tokens].filter(Boolean);
  return (
    <ProgressBar percent={percent} label="Job progress">
      {caption.length > 0 ? caption.join(" · ") : "working…"}
    </ProgressBar>
  );
}
