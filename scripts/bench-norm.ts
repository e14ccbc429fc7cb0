// --norm's cost per training step, measured per CPU-second so that a busy machine does not decide it:
// P1 (LSTM 2×128, B50 T50, one-hot, Adam, clip 5) with --norm none, layer and batch, one thread, in
// interleaved rounds of `--steps` steps; prints each round and the medians (BENCHMARKS.md, "Normalised layers").
//
//   npx tsx scripts/bench-norm.ts [--rounds 5] [--steps 15]
import { resolveTrainConfig, type ModelConfig, type NormKind } from "../src/config.ts";
import { createWasmKernels } from "../src/kernels/wasm.ts";
import { initParams } from "../src/model/init.ts";
import { createModel } from "../src/model/model.ts";
import { makeRng } from "../src/rng.ts";
import { createOptimizerState } from "../src/train/optim.ts";
import { makeStepper } from "../src/train/step.ts";
import { createEngine } from "../src/train/train.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROUNDS = arg("rounds", 5), STEPS = arg("steps", 15), B = 50, T = 50, V = 65;
const ops = createWasmKernels();

/** n training steps → CPU seconds per step (this process: one training thread, no helper) */
async function stepper(norm: NormKind | null): Promise<(n: number) => number> {
  const mc: ModelConfig = { cell: "lstm", layers: 2, hidden: 128, embed: 0, activation: "tanh", residual: false, vocabSize: V, ...(norm ? { norm } : {}) };
  const cfg = resolveTrainConfig({ model: mc, batch: B, seq: T, steps: 1, corpus: [], threads: 1 }, { threads: 1, out: "" });
  const model = createModel(cfg.model, ops), rng = makeRng(1);
  initParams(model, cfg, rng);
  const ids = new Uint16Array(B * T * 8 + 1).map(() => rng.int(V));
  const step = makeStepper(model, cfg, await createEngine(model, cfg, ids), createOptimizerState(cfg, model.spec.size, (n) => ops.alloc(n)));
  for (let i = 0; i < 3; i++) step(i % 8, rng, cfg.lr); // warm-up
  return (n) => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) step(i % 8, rng, cfg.lr);
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1e6 / n;
  };
}

const kinds = ["none", "layer", "batch"] as const;
const run = Object.fromEntries(await Promise.all(kinds.map(async (k) => [k, await stepper(k === "none" ? null : k)] as const)));
const times: Record<string, number[]> = { none: [], layer: [], batch: [] };
for (let r = 0; r < ROUNDS; r++) {
  const line = kinds.map((k) => {
    const s = run[k](STEPS);
    times[k].push(s);
    return `${k} ${(s * 1000).toFixed(1)}`;
  });
  console.log(`round ${r + 1}: ms CPU per step: ${line.join(" · ")}`);
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const k of kinds) {
  const m = median(times[k]);
  console.log(`${k.padEnd(5)} median ${(m * 1000).toFixed(1)} ms CPU/step · ${Math.round((B * T) / m)} chars per CPU-second · ×${(m / median(times.none)).toFixed(3)} of none`);
}
