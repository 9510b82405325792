// Streamed text of running jobs. Each `job:progress` chunk says where it starts (`offset`), so a
// chunk can be placed exactly; a gap (a chunk starting past what we have) means we missed some and
// must catch up from the status endpoint.

/** The text with `chunk` placed at `offset`, or null when there is a gap before it. */
export function applyChunk(known: string, offset: number, chunk: string): string | null {
  if (offset > known.length) return null;
  return known.slice(0, offset) + chunk;
}

/** Of two versions of a job's text (live and polled), the one that has more of it. */
export function longest(...texts: (string | undefined | null)[]): string {
  return texts.reduce<string>((best, text) => (text && text.length > best.length ? text : best), "");
}

type Listener = () => void;

/** A tiny external store (for useSyncExternalStore): job id → text so far. */
export class TextStore {
  private texts = new Map<string, string>();
  private listeners = new Set<Listener>();

  get(jobId: string): string {
    return this.texts.get(jobId) ?? "";
  }

  /** Place a chunk; false when there was a gap (the caller should refetch the status). */
  apply(jobId: string, offset: number, chunk: string): boolean {
    const next = applyChunk(this.get(jobId), offset, chunk);
    if (next === null) return false;
    this.set(jobId, next);
    return true;
  }

  /** Adopt text from the status endpoint when it is ahead of what the socket brought. */
  catchUp(jobId: string, text: string): void {
    if (text.length > this.get(jobId).length) this.set(jobId, text);
  }

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private set(jobId: string, text: string): void {
    this.texts.set(jobId, text);
    this.listeners.forEach((listener) => listener());
  }
}
