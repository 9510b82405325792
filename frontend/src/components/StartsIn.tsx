import { useNow } from "../hooks/use-now";
import { startsIn } from "../lib/format";

/** When a queued job should start, counting down each second from the server's estimate (received at
 *  `since`, ms) until the next update brings a new one; "no estimate yet" when the server has none. */
export function StartsIn({ eta, since }: { eta: number | null | undefined; since: number }) {
  const counting = typeof eta === "number";
  const now = useNow(1000, counting);
  return <>{startsIn(counting ? eta - Math.max(0, now - since) / 1000 : null)}</>;
}
