// Webhook signing secrets are stored encrypted (AES-256-GCM) under a key from the environment, so a database dump
// alone cannot forge deliveries. Each ciphertext names its key by a short id; during a key rotation the previous key
// still decrypts (see docs/OPERATIONS.md), and everything written uses the current one.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { z } from "zod";

/** 32 bytes, base64: `openssl rand -base64 32`. */
export const secretKeyEnv = z
  .string()
  .transform((value, ctx) => {
    const key = Buffer.from(value, "base64");
    if (key.length !== 32) {
      ctx.addIssue({ code: "custom", message: "must be 32 bytes, base64-encoded (openssl rand -base64 32)" });
      return z.NEVER;
    }
    return key;
  })
  .optional();

export interface SecretBox {
  encrypt(plain: string): string;
  /** Throws when no configured key made it, or it was tampered with. */
  decrypt(sealed: string): string;
  /** Sealed under the current key (a rotation re-seals the rest). */
  isCurrent(sealed: string): boolean;
}

const keyIdOf = (key: Buffer) => createHash("sha256").update(key).digest("base64url").slice(0, 8);

export function createSecretBox(current: Buffer, previous?: Buffer): SecretBox {
  const keys = new Map([[keyIdOf(current), current]]);
  if (previous) keys.set(keyIdOf(previous), previous);
  const currentId = keyIdOf(current);
  return {
    encrypt(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", current, iv);
      const sealed = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
      return ["v1", currentId, iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), sealed.toString("base64url")].join(".");
    },
    decrypt(sealed) {
      const [version, keyId, iv, tag, data] = sealed.split(".");
      const key = keyId ? keys.get(keyId) : undefined;
      if (version !== "v1" || !key || !iv || !tag || data === undefined) {
        throw new Error("the webhook secret was sealed with a key this process does not have (WEBHOOK_SECRET_KEY)");
      }
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString("utf8");
    },
    isCurrent: (sealed) => sealed.split(".")[1] === currentId,
  };
}

/** What API and worker know about webhooks from their environment. */
export interface WebhookSettings {
  /** WEBHOOK_SECRET_KEY (and _PREVIOUS); null when unset: webhooks cannot be set up, nothing can be signed. */
  secrets: SecretBox | null;
  /** WEBHOOK_ALLOW_PRIVATE. */
  allowPrivate: boolean;
}

export const webhookSettingsOf = (env: {
  WEBHOOK_SECRET_KEY?: Buffer | undefined;
  WEBHOOK_SECRET_KEY_PREVIOUS?: Buffer | undefined;
  WEBHOOK_ALLOW_PRIVATE: boolean;
}): WebhookSettings => ({
  secrets: env.WEBHOOK_SECRET_KEY ? createSecretBox(env.WEBHOOK_SECRET_KEY, env.WEBHOOK_SECRET_KEY_PREVIOUS) : null,
  allowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
});
