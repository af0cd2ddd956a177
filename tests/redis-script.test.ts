// Lua scripts run by digest (shared/src/redis-script.ts), on the real Redis. Each test's script carries a random
// comment, so its digest is one this Redis has never seen: the test starts from NOSCRIPT without flushing the
// server's script cache, which other runs share.
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it, vi } from "vitest";
import { inject } from "vitest";
import { createRedis } from "@insights/shared/redis";
import { redisScript } from "@insights/shared/redis-script";

const redis = createRedis(inject("redisUrl"), { role: "script-test" });
afterAll(() => redis.quit());

const unseen = (body: string) => `-- ${randomBytes(8).toString("hex")}\n${body}`;
const sha1Of = async (source: string) => (await redis.script("LOAD", source)) as string;

describe("a Lua script run by its digest", () => {
  it("sends its text once, when Redis does not know it, and then only its digest", async () => {
    const source = unseen("return {KEYS[1], ARGV[1], ARGV[2]}");
    const script = redisScript(source);
    const evals = vi.spyOn(redis, "eval");
    const evalshas = vi.spyOn(redis, "evalsha");
    try {
      const key = `${inject("queuePrefix")}-script:k`;
      expect(await script.run(redis, [key], ["a", 2])).toEqual([key, "a", "2"]);
      expect(await script.run(redis, [key], ["b", 3])).toEqual([key, "b", "3"]);
      expect(evals).toHaveBeenCalledTimes(1);
      expect(evalshas).toHaveBeenCalledTimes(2);
      // The digest it runs by is the one Redis gives the text.
      expect(evalshas.mock.calls[0]![0]).toBe(await sha1Of(source));
    } finally {
      evals.mockRestore();
      evalshas.mockRestore();
    }
  });

  it("passes on the script's own errors, without sending it again", async () => {
    const script = redisScript(unseen("return redis.error_reply('ERR out of budget')"));
    await expect(script.run(redis, [], [])).rejects.toThrow("out of budget");
    const evals = vi.spyOn(redis, "eval");
    try {
      await expect(script.run(redis, [], [])).rejects.toThrow("out of budget");
      expect(evals).not.toHaveBeenCalled();
    } finally {
      evals.mockRestore();
    }
  });
});
