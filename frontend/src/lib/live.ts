// What the Socket.IO connection (app/LiveProvider) shares with the rest of the page: whether it is up
// (queries poll while it is down) and the streamed text of running jobs.
import { createContext, useContext, useSyncExternalStore } from "react";
import type { Socket } from "socket.io-client";
import { TextStore } from "./text-store";

export const POLL_MS = 3000;

export interface Live {
  connected: boolean;
  problem: string | null;
  texts: TextStore;
  socket: Socket | null;
}

export const LiveContext = createContext<Live>({ connected: false, problem: null, texts: new TextStore(), socket: null });

export function useLive(): Live {
  return useContext(LiveContext);
}

/** A running job's text so far, re-rendering as chunks arrive. */
export function useJobText(jobId: string): string {
  const { texts } = useLive();
  return useSyncExternalStore(texts.subscribe, () => texts.get(jobId));
}

/** Poll often while the socket is down; while it is up, only slowly, as a safety net. */
export function pollEvery(connected: boolean, slow = 30_000): number {
  return connected ? slow : POLL_MS;
}
