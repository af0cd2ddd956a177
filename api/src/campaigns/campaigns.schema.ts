import { z } from "zod";
import { id, text, workspaceParams } from "../http/common.schema.ts";
import { pageQuery } from "../http/pagination.ts";

export const campaignPath = workspaceParams.extend({ campaignId: id });
export const putCampaignBody = z.strictObject({ name: text.trim().min(1, "must not be empty").max(200) });

export const campaignResponse = z.object({ id: z.string(), name: z.string(), createdAt: z.date(), updatedAt: z.date() });

export const listCampaignsQuery = z.object(pageQuery);
export const campaignPage = z.object({ campaigns: z.array(campaignResponse), nextCursor: z.string().nullable() });
