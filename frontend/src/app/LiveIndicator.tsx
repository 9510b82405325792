import { useLive } from "../lib/live";

/** Whether updates arrive live, or the page is polling because the socket is down (and why). */
export function LiveIndicator() {
  const { connected, problem } = useLive();
  return connected ? (
    <span className="live live-on" data-testid="live-indicator" title="Updates arrive as they happen">
      ● live
    </span>
  ) : (
    <span className="live live-off" data-testid="live-indicator" role="status">
      ● {problem ?? "connecting"} — checking every few seconds instead
    </span>
  );
}
