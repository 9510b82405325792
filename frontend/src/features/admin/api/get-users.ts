// GET /api/ai-agent/admin/users — every user, with role and when last seen.
import { queryOptions, useQuery } from "@tanstack/react-query";
import { useApi, type Fetch, type Schemas } from "../../../lib/api-client";

export type UserView = Schemas["UserView"];

export const usersKey = () => ["users"] as const;

export function getUsers(call: Fetch): Promise<UserView[]> {
  return call("/api/ai-agent/admin/users") as Promise<UserView[]>;
}

export function usersQueryOptions(call: Fetch) {
  return queryOptions({ queryKey: usersKey(), queryFn: () => getUsers(call) });
}

export function useUsers() {
  return useQuery(usersQueryOptions(useApi()));
}
