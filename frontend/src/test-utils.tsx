import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import type { Api } from "./api/client";
import { ApiContext } from "./api/hooks";

/** Render with a fresh QueryClient and a fake API (only the calls the test needs). */
export function renderWith(ui: ReactNode, api: Partial<Api> = {}, client = new QueryClient({ defaultOptions: { queries: { retry: false } } })) {
  return {
    client,
    ...render(
      <QueryClientProvider client={client}>
        <ApiContext.Provider value={api as Api}>{ui}</ApiContext.Provider>
      </QueryClientProvider>,
    ),
  };
}
