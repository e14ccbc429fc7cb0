// What `--ortho-opt cayley` costs per optimizer step (BENCHMARKS.md): rnn bench's training workloads P1 (LSTM
// 2×128) and P2 (LSTM 2×512), B50 T50, Adam, timed through the training step (src/train/step.ts) with and
// without the retraction, side by side in one process: rounds alternate plain / cayley, each round `steps`
// steps, and the table reports the median ms/step of each and their ratio; plus the retraction of all blocks
// alone (src/train/cayley.ts's before + after, on the calling thread, for an Adam-sized update: every element
// ±lr·u, u uniform in [0, 1), in place of the optimizer's), its median ms.
//
//   npx tsx scripts/bench-cayley.ts [--only P1,P2] [--threads 1] [--rounds 5] [--steps 10]
import os from "node:os";
import { V_BENCH, WORKLOADS } from "../src/bench/bench.ts";
import { resolveTrainConfig } from "../src/config.ts";
import { selectKernels } from "../src/kernels/index.ts";
import { initParams } from "../src/model/init.ts";
import { createModel } from "../src/model/model.ts";
import { recurrentBlocks } from "../src/model/orthogonal.ts";
import { makeRng } from "../src/rng.ts";
import { cayleyStep } from "../src/train/cayley.ts";
import { createOptimizerState } from "../src/train/optim.ts";
import { makeStepper } from "../src/train/step.ts";
import { createEngine } from "../src/train/train.ts";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
};
const ONLY = arg("only", "P1,P2").split(","), THREADS = Number(arg("threads", "1"));
const ROUNDS = Number(arg("rounds", "5")), STEPS = Number(arg("steps", "10"));
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");

console.log(`bench-cayley: ${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}, Node ${process.version}, ${THREADS} thread(s), ` +
  `${ROUNDS} rounds × ${STEPS} steps; load average ${load()}`);
const ops = await selectKernels();
for (const id of ONLY) {
  const w = WORKLOADS.find((x) => x.id === id && x.kind === "train")!;
  const make = async (cayley: boolean) => {
    const cfg = resolveTrainConfig(
      { model: { cell: w.cell, layers: w.layers, hidden: w.hidden, embed: 0, vocabSize: V_BENCH }, batch: w.batch, seq: w.seq, lr: 2e-3, clip: 5,
        steps: 1, corpus: [], threads: THREADS, ...(cayley ? { orthoOpt: "cayley" as const } : {}) },
      { threads: THREADS, out: "" },
    );
    const rng = makeRng(1234);
    const model = createModel(cfg.model, ops);
    initParams(model, cfg, rng);
    const ids = Uint16Array.from({ length: w.batch * w.seq * 8 + 1 }, () => rng.int(V_BENCH));
    const engine = await createEngine(model, cfg, ids);
    const opt = createOptimizerState(cfg, model.spec.size, (n) => ops.alloc(n));
    const step = makeStepper(model, cfg, engine, opt);
    let s = 0;
    const time = (n: number) => {
      const t0 = performance.now();
      for (let i = 0; i < n; i++, s++) step(s % 8, rng, cfg.lr);
      return (performance.now() - t0) / n;
    };
    return { time, engine, model };
  };
  const plain = await make(false), cay = await make(true);
  plain.time(2);
  cay.time(2); // warm-up: JIT, page faults
  const a: number[] = [], b: number[] = [], alone: number[] = [], rng2 = makeRng(99);
  const retract = cayleyStep(cay.model); // no engine: every block on this thread
  const blocks = recurrentBlocks(cay.model), negU = new Float32Array(blocks[0].length); // [H × H]
  for (let r = 0; r < ROUNDS; r++) {
    a.push(plain.time(STEPS));
    b.push(cay.time(STEPS));
    // an Adam-sized −U (the series' products depend on its size; an update of 0 would stop it at once)
    for (let j = 0; j < negU.length; j++) negU[j] = 2e-3 * (2 * rng2.next() - 1);
    const t0 = performance.now();
    retract.before();
    for (const block of blocks) block.set(negU);
    retract.after(1);
    alone.push(performance.now() - t0);
  }
  await plain.engine.dispose();
  await cay.engine.dispose();
  const [pa, pb, pr] = [median(a), median(b), median(alone)];
  console.log(`${w.id} ${w.note}: plain ${pa.toFixed(1)} ms/step, cayley ${pb.toFixed(1)} ms/step (×${(pb / pa).toFixed(2)}); ` +
    `the retraction of the ${recurrentBlocks(cay.model).length} blocks alone ${pr.toFixed(1)} ms ` +
    `(${(100 * pr / pa).toFixed(0)}% of a plain step); per round plain ${a.map((x) => x.toFixed(1)).join(" ")} · cayley ${b.map((x) => x.toFixed(1)).join(" ")}; load ${load()}`);
}
