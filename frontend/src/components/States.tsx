import type { ReactNode } from "react";
import { ApiError } from "../api/client";

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function ErrorNote({ error, retry }: { error: unknown; retry?: () => void }) {
  const message = error instanceof ApiError ? error.message : String((error as Error)?.message ?? error);
  return (
    <div className="error" role="alert">
      <span>{message}</span>
      {retry && (
        <button type="button" className="link" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

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

/** A table that scrolls sideways on narrow screens. */
export function Table({ headers, children }: { headers: ReactNode[]; children: ReactNode }) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            {headers.map((header, index) => (
              <th scope="col" key={index}>
                {header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
