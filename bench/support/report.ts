// One figure per target: what was measured, the target, whether it is met, and the raw numbers behind it.
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import path from "node:path";

export interface Figure {
  id: string;
  title: string;
  measured: number;
  unit: string;
  target: { op: "<=" | ">=" | "=="; value: number };
  /** Everything behind the figure: each run's numbers, settings, baselines. */
  detail: Record<string, unknown>;
}

export const isMet = (f: Figure) =>
  f.target.op === "<=" ? f.measured <= f.target.value : f.target.op === ">=" ? f.measured >= f.target.value : f.measured === f.target.value;

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(3));

export function formatTable(figures: Figure[]): string {
  const rows = figures.map((f) => [
    f.title,
    `${fmt(f.measured)}${f.unit}`,
    `${f.target.op} ${fmt(f.target.value)}${f.unit}`,
    isMet(f) ? "met" : "MISSED",
  ]);
  const header = ["figure", "measured", "target", ""];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)].join("\n");
}

export function machine() {
  return {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    loadAvg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export async function writeResults(dir: string, result: object): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
