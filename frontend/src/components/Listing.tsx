import type { ReactNode } from "react";
import { Empty, ErrorNote, Loading } from "./States";

interface Loadable {
  isPending: boolean;
  isError: boolean;
  error: unknown;
  refetch: () => unknown;
}

/** The states of a fetched list, the same everywhere: loading, the error (with a retry), empty, or the items. */
export function Listing<T>({
  query,
  what,
  items,
  empty,
  children,
}: {
  query: Loadable;
  what: string;
  items: T[] | undefined;
  empty: ReactNode;
  children: (items: T[]) => ReactNode;
}) {
  if (query.isPending) return <Loading what={what} />;
  if (query.isError) return <ErrorNote error={query.error} retry={() => void query.refetch()} />;
  if (!items || items.length === 0) return <Empty>{empty}</Empty>;
  return <>{children(items)}</>;
}
