import { z } from "zod";
import { id, text } from "../http/common.schema.ts";

export const campaignParams = z.object({ campaignId: id });
export const putCampaignBody = z.strictObject({ name: text.trim().min(1, "must not be empty").max(200) });
