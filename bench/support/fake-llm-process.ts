// A handle on bench/servers/fake-llm-server.ts running as a child process.
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

interface FakeLlmStats {
  calls: Record<"lead_insight" | "pack_synthesis" | "chat_answer", number>;
  /** What the last chat answer request sent: every message, as the LLM received it. */
  lastAnswerMessages: Array<{ role: string; content: string }> | null;
}

export interface FakeLlmProcess {
  baseURL: string;
  setLatency(ms: number): Promise<FakeLlmStats>;
  reset(): Promise<FakeLlmStats>;
  stats(): Promise<FakeLlmStats>;
  close(): Promise<void>;
}

export async function startFakeLlmProcess(): Promise<FakeLlmProcess> {
  const child: ChildProcess = fork(path.join(here, "../servers/fake-llm-server.ts"), [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let nextId = 1;
  const waiting = new Map<number, (m: FakeLlmStats & { baseURL?: string }) => void>();
  const ready = new Promise<{ baseURL: string }>((resolve) => waiting.set(0, resolve as never));
  child.on("message", (m: { id: number } & FakeLlmStats & { baseURL?: string }) => {
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  const send = (message: object) =>
    new Promise<FakeLlmStats>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      child.send({ id, ...message });
    });
  const { baseURL } = await ready;
  return {
    baseURL,
    setLatency: (ms) => send({ cmd: "latency", ms }),
    reset: () => send({ cmd: "reset" }),
    stats: () => send({ cmd: "stats" }),
    close: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.disconnect();
      }),
  };
}
