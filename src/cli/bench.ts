// `rnn bench`: prints chars/s, ms/step and GFLOP/s for the standard workloads.
import chalk from "chalk";
import { runWorkload, WORKLOADS } from "../bench/bench.ts";
import { BENCH_DEFAULTS } from "../config.ts";
import { UsageError } from "../errors.ts";
import { selectKernels } from "../kernels/index.ts";
import { everyCore, human } from "./common.ts";
import type { FlagsOf } from "./options.ts";

/** The flags of `rnn bench`, as declared in options.ts. */
export type BenchFlags = FlagsOf<"bench">;

export async function benchCommand(flags: BenchFlags): Promise<void> {
  const ids = flags.only ? flags.only.split(",").map((s) => s.trim().toUpperCase()) : WORKLOADS.map((w) => w.id);
  const unknown = ids.filter((id) => !WORKLOADS.some((w) => w.id === id));
  if (unknown.length) throw new UsageError(`--only: unknown workload ${unknown.join(", ")}; choose from ${WORKLOADS.map((w) => w.id).join(", ")}`);
  const threads = flags.threads ?? everyCore();
  const seconds = flags.seconds ?? BENCH_DEFAULTS.seconds;
  const results = [];
  if (!flags.json) {
    const k = await selectKernels(flags.kernels);
    process.stdout.write(chalk.bold(`rnn bench · ${k.name} · ${threads} thread${threads > 1 ? "s" : ""} · ${seconds}s per workload\n`));
    process.stdout.write(chalk.dim(`${"id".padEnd(4)}${"workload".padEnd(44)}${"chars/s".padStart(10)}${"ms/step".padStart(10)}${"GFLOP/s".padStart(10)}\n`));
  }
  for (const id of ids) {
    const w = WORKLOADS.find((x) => x.id === id)!;
    const r = await runWorkload(w, { kernels: () => selectKernels(flags.kernels), threads: w.kind === "train" ? threads : 1, seconds });
    const rss = process.resourceUsage().maxRSS * 1024;
    results.push({ ...r, maxRssBytes: rss });
    if (flags.json) process.stdout.write(`${JSON.stringify({ ...r, threads: w.kind === "train" ? threads : 1, maxRssBytes: rss })}\n`);
    else {
      process.stdout.write(`${w.id.padEnd(4)}${w.note.padEnd(44)}${human(r.charsPerSec).padStart(10)}${r.msPerStep.toFixed(2).padStart(10)}${r.gflops.toFixed(1).padStart(10)}\n`);
    }
  }
}
