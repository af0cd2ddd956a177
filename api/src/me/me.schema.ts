import { z } from "zod";
import { WorkspaceRole } from "@insights/shared/db/client";

export const meResponse = z.object({
  user: z.object({ id: z.string(), email: z.string(), name: z.string().nullable() }),
  workspaces: z.array(z.object({ id: z.string(), name: z.string(), role: z.enum(WorkspaceRole) })),
});
export type MeResponse = z.output<typeof meResponse>;
