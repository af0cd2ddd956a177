// The tests' fake OpenAI-compatible server in a process of its own, so its work does not share the measured
// process's event loop (a real LLM is remote too). Driven over IPC: set latency, reset, read what it received.
import { startFakeLlm } from "../../tests/support/fake-llm.ts";

const fake = await startFakeLlm();
type Command = { id: number; cmd: "latency"; ms: number } | { id: number; cmd: "reset" } | { id: number; cmd: "stats" };
process.on("message", (message: Command) => {
  if (message.cmd === "latency") fake.latencyMs = message.ms;
  if (message.cmd === "reset") fake.reset();
  const calls = Object.fromEntries(["lead_insight", "pack_synthesis", "chat_answer"].map((t) => [t, fake.callsFor(t)]));
  const lastAnswer = fake.requests.filter((r) => r.task === "chat_answer").at(-1);
  process.send!({ id: message.id, calls, lastAnswerMessages: lastAnswer?.body.messages ?? null });
});
process.send!({ id: 0, baseURL: fake.baseURL });
process.on("disconnect", () => void fake.close().then(() => process.exit(0)));
