// Provisioning, for the host application's backend (service token only; every user token gets 403): workspaces,
// users and memberships by the host's own ids, and offboarding.
import { WORKSPACE_PATH, workspaceParams } from "../http/common.schema.ts";
import { defineRoute } from "../http/route.ts";
import {
  memberParams,
  memberResponse,
  offboardedWorkspaceResponse,
  putMemberBody,
  putUserBody,
  putWorkspaceBody,
  removedMemberResponse,
  userParams,
  userResponse,
  workspaceResponse,
} from "./provisioning.schema.ts";
import * as provisioning from "./provisioning.service.ts";

const MEMBER = `${WORKSPACE_PATH}/members/{userId}`;

/** Every PUT here is an upsert: 201 when it created the row, 200 when it updated (or found) it. */
const upserted = <T>({ created, body }: provisioning.Upserted<T>) =>
  created ? { status: 201 as const, body } : { status: 200 as const, body };

export const provisioningRoutes = [
  defineRoute({
    operationId: "putWorkspace",
    method: "put",
    path: WORKSPACE_PATH,
    summary: "Create or rename a workspace, by the host's id, and set its share of the workers",
    tag: "provisioning",
    access: "service",
    params: workspaceParams,
    body: putWorkspaceBody,
    responses: {
      201: { description: "Created", body: workspaceResponse },
      200: { description: "Renamed (or unchanged)", body: workspaceResponse },
    },
    handle: async ({ params, body }, { db }) => upserted(await provisioning.putWorkspace(db, params.workspaceId, body)),
  }),
  defineRoute({
    operationId: "offboardWorkspace",
    method: "delete",
    path: WORKSPACE_PATH,
    summary: "Offboard a workspace: it and every row of it, audit events included, are erased",
    description:
      "Done when it answers (the 202 is the contract's); running work is cancelled. Afterwards every route of the " +
      "workspace answers 404.",
    tag: "provisioning",
    access: "service",
    params: workspaceParams,
    responses: { 202: { description: "Erased", body: offboardedWorkspaceResponse } },
    handle: async ({ params, req }, deps) => {
      const result = await provisioning.offboardWorkspace(deps, params.workspaceId);
      // No audit trail of the workspace remains to record it in: this log line is the record.
      deps.logger.info({ workspaceId: params.workspaceId, ...result, requestId: req.id }, "workspace offboarded");
      return { status: 202, body: result };
    },
  }),
  defineRoute({
    operationId: "putUser",
    method: "put",
    path: "/v1/users/{userId}",
    summary: "Create or update a user, by the host's id",
    tag: "provisioning",
    access: "service",
    params: userParams,
    body: putUserBody,
    responses: {
      201: { description: "Created", body: userResponse },
      200: { description: "Updated (or unchanged)", body: userResponse },
    },
    errors: ["CONFLICT"],
    handle: async ({ params, body }, { db }) => upserted(await provisioning.putUser(db, params.userId, body)),
  }),
  defineRoute({
    operationId: "putMember",
    method: "put",
    path: MEMBER,
    summary: "Add a user to a workspace, or change their role",
    tag: "provisioning",
    access: "service",
    params: memberParams,
    body: putMemberBody,
    responses: {
      201: { description: "Added", body: memberResponse },
      200: { description: "Role changed (or unchanged)", body: memberResponse },
    },
    handle: async ({ params, body }, deps) => upserted(await provisioning.putMember(deps, params.workspaceId, params.userId, body.role)),
  }),
  defineRoute({
    operationId: "removeMember",
    method: "delete",
    path: MEMBER,
    summary: "Remove a user from a workspace; their access ends within 6 seconds in every API process",
    tag: "provisioning",
    access: "service",
    params: memberParams,
    responses: { 200: { description: "Removed", body: removedMemberResponse } },
    handle: async ({ params }, deps) => ({
      status: 200,
      body: await provisioning.removeMember(deps, params.workspaceId, params.userId),
    }),
  }),
];
