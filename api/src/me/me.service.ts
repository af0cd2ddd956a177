import type { Db } from "@insights/shared/db/client";
import { notFound } from "../http/app-error.ts";
import type { MeResponse } from "./me.schema.ts";

export async function getMe(db: Db, userId: string): Promise<MeResponse> {
  const user = await db.user.findUnique({
    where: { id: userId },
    select: {
      id: true,
      email: true,
      name: true,
      memberships: { select: { role: true, client: { select: { id: true, name: true } } } },
    },
  });
  if (!user) throw notFound("user (the host has not provisioned it: PUT /v1/users/:userId)");
  return {
    user: { id: user.id, email: user.email, name: user.name },
    workspaces: user.memberships
      .map((m) => ({ id: m.client.id, name: m.client.name, role: m.role }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)),
  };
}
