// POST /api/ai-agent/admin/users — a new user and their first key (shown once).
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { post, useApi, type Fetch, type Schemas } from "../../../lib/api-client";
import { keysKey } from "./get-keys";
import { usersKey } from "./get-users";

export type IssuedKey = Schemas["IssuedKeyView"];

export function createUser(call: Fetch, username: string, isAdmin: boolean): Promise<IssuedKey> {
  return post(call, "/api/ai-agent/admin/users", { username, admin: isAdmin } satisfies Schemas["CreateUser"]) as Promise<IssuedKey>;
}

export function useCreateUser() {
  const call = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ username, isAdmin }: { username: string; isAdmin: boolean }) => createUser(call, username, isAdmin),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: usersKey() });
      void client.invalidateQueries({ queryKey: keysKey() });
    },
  });
}
