import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useMemo, type ReactNode } from "react";
import { ApiContext, ApiError, createClient } from "../lib/api-client";
import { LiveProvider } from "./LiveProvider";

/** Retrying cannot fix a missing key, a missing right or a missing thing. */
const NOT_RETRIED = [401, 403, 404];

function newQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        retry: (count, error) => !(error instanceof ApiError && NOT_RETRIED.includes(error.status)) && count < 2,
      },
    },
  });
}

/** Everything a signed-in page needs: a query cache of its own, the API client with the token, live updates. */
export function AppProvider({ token, children }: { token: string; children: ReactNode }) {
  const client = useMemo(newQueryClient, [token]); // a new user starts with an empty cache
  const call = useMemo(() => createClient(token), [token]);
  return (
    <QueryClientProvider client={client}>
      <ApiContext.Provider value={call}>
        <LiveProvider token={token}>{children}</LiveProvider>
      </ApiContext.Provider>
    </QueryClientProvider>
  );
}
