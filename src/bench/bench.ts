// `rnn bench`: the standard workloads on synthetic data (V = 65, one-hot input, Adam, clip 5), timed through
// the same code paths as `rnn train` and `rnn sample`. Returns numbers; src/cli/bench.ts prints them.
import { resolveTrainConfig, gateCount, type CellKind, type ModelConfig, type NormKind, type TrainConfig } from "../config.ts";
import type { Kernels } from "../kernels/types.ts";
import { initParams } from "../model/init.ts";
import { createModel } from "../model/model.ts";
import { human } from "../format.ts";
import { makeRng } from "../rng.ts";
import { sample } from "../sample/sample.ts";
import { createOptimizerState } from "../train/optim.ts";
import { makeStepper } from "../train/step.ts";
import { AUTOSIZE, type Shape } from "../train/autosize.ts";
import { createEngine } from "../train/train.ts";

export interface Workload {
  id: string;
  kind: "train" | "sample";
  cell: CellKind;
  layers: number;
  hidden: number;
  batch: number;
  seq: number;
  note: string;
  /** --norm (absent: none) */
  norm?: NormKind;
}

export const V_BENCH = 65;

export const WORKLOADS: Workload[] = [
  { id: "P1", kind: "train", cell: "lstm", layers: 2, hidden: 128, batch: 50, seq: 50, note: "LSTM 2×128, B50 T50 (char-rnn's default)" },
  { id: "P2", kind: "train", cell: "lstm", layers: 2, hidden: 512, batch: 50, seq: 50, note: "LSTM 2×512, B50 T50" },
  { id: "P3", kind: "train", cell: "rnn", layers: 1, hidden: 100, batch: 1, seq: 25, note: "RNN 1×100, B1 T25 (min-char-rnn)" },
  { id: "P4", kind: "train", cell: "gru", layers: 2, hidden: 256, batch: 32, seq: 64, note: "GRU 2×256, B32 T64" },
  { id: "LN1", kind: "train", cell: "lstm", layers: 2, hidden: 128, batch: 50, seq: 50, norm: "layer", note: "LN-LSTM 2×128, B50 T50 (P1 with --norm layer)" },
  { id: "S1", kind: "sample", cell: "lstm", layers: 2, hidden: 512, batch: 1, seq: 1, note: "sampling LSTM 2×512, batch 1" },
  { id: "S2", kind: "sample", cell: "lstm", layers: 2, hidden: 128, batch: 1, seq: 1, note: "sampling LSTM 2×128, batch 1" },
];

export interface BenchResult {
  id: string;
  note: string;
  charsPerSec: number;
  msPerStep: number;
  gflops: number;
  steps: number;
  seconds: number;
}

function modelOf(w: Workload): ModelConfig {
  const m: ModelConfig = { cell: w.cell, layers: w.layers, hidden: w.hidden, embed: 0, activation: "tanh", residual: false, vocabSize: V_BENCH };
  if (w.norm) m.norm = w.norm;
  return m;
}

/**
 * Floating-point operations of one training step (forward + backward), counting the GEMMs that run: the
 * one-hot input projection is a gather and its weight gradient a scatter, so they count nothing; nor do
 * --norm's normalisations (LN1 counts P1's FLOPs, so its GFLOP/s is the rate of the same useful work).
 */
export function trainFlops(m: ModelConfig, B: number, T: number): number {
  const N = B * T, H = m.hidden, GH = gateCount(m) * H, V = m.vocabSize;
  let f = 0;
  for (let l = 0; l < m.layers; l++) {
    const In = l === 0 ? m.embed : H; // 0 for one-hot
    f += 2 * N * In * GH * 3; // input projection, its weight gradient, the gradient into the input
    f += 2 * N * H * GH * 3; // h·W_hhᵀ per step, dW_hh, dh·W_hh per step
  }
  return f + 2 * N * H * V * 3; // decoder forward, dW_dec, dTop
}

/** Floating-point operations to sample one character at batch 1. */
export function sampleFlops(m: ModelConfig): number {
  const H = m.hidden, GH = gateCount(m) * H;
  let f = 0;
  for (let l = 0; l < m.layers; l++) f += 2 * ((l === 0 ? m.embed : H) + H) * GH;
  return f + 2 * H * m.vocabSize;
}

export interface BenchOptions {
  kernels: () => Promise<Kernels>;
  threads: number;
  /** seconds of timed work per workload (after warm-up) */
  seconds: number;
}

export async function runWorkload(w: Workload, opts: BenchOptions): Promise<BenchResult> {
  const ops = await opts.kernels();
  const mc = modelOf(w);
  const rng = makeRng(1234);
  if (w.kind === "sample") {
    const model = createModel(mc, ops);
    initParams(model, { init: "pytorch", forgetBias: null }, rng);
    const vocab = Array.from({ length: V_BENCH }, (_, i) => String.fromCharCode(32 + i));
    const go = (n: number) => sample(model, vocab, { length: n, temperature: 1, prime: "", seed: 1, argmax: false, topK: 0, count: 1 }, () => {});
    await ops.startHelper?.(); // as rnn sample does
    go(50); // warm-up
    let n = 200, t = 0;
    for (;;) {
      const t0 = performance.now();
      go(n);
      t = (performance.now() - t0) / 1000;
      if (t >= opts.seconds * 0.5) break;
      n = Math.ceil(n * Math.min(10, (opts.seconds / Math.max(t, 1e-3)) * 0.6));
    }
    const cps = n / t;
    return { id: w.id, note: w.note, charsPerSec: cps, msPerStep: 1000 / cps, gflops: (sampleFlops(mc) * cps) / 1e9, steps: n, seconds: t };
  }
  const { steps, seconds: t } = await timeTraining(mc, w.batch, w.seq, { ops, threads: opts.threads, seconds: opts.seconds });
  const chars = steps * w.batch * w.seq;
  return { id: w.id, note: w.note, charsPerSec: chars / t, msPerStep: (1000 * t) / steps, gflops: (trainFlops(mc, w.batch, w.seq) * steps) / t / 1e9, steps, seconds: t };
}

/**
 * Times training steps of model `mc` at B×T on synthetic text (Adam, clip 5), through the code path of
 * `rnn train` (its engine, data-parallel over `threads`, and its stepper): `warmup` steps (default 3: JIT, page
 * faults), then steps until `seconds` have passed and at least `minSteps` were taken. Returns the timed steps
 * and their seconds.
 */
export async function timeTraining(mc: ModelConfig, batch: number, seq: number, opts: { ops: Kernels; threads: number; seconds: number; warmup?: number; minSteps?: number }): Promise<{ steps: number; seconds: number }> {
  const { ops } = opts;
  const rng = makeRng(1234);
  const cfg: TrainConfig = resolveTrainConfig(
    { model: mc, batch, seq, optimizer: "adam", lr: 2e-3, clip: 5, steps: 1, corpus: [], threads: opts.threads },
    { threads: opts.threads, out: "" },
  );
  const model = createModel(mc, ops);
  initParams(model, cfg, rng);
  const chunks = 8;
  const n = batch * seq * chunks + 1;
  const ids = mc.vocabSize > 65_536 ? new Uint32Array(n) : new Uint16Array(n); // as the corpus reader stores ids
  for (let i = 0; i < ids.length; i++) ids[i] = rng.int(mc.vocabSize);
  const engine = await createEngine(model, cfg, ids);
  const opt = createOptimizerState(cfg, model.spec.size, (n) => ops.alloc(n));
  const step = makeStepper(model, cfg, engine, opt);
  try {
    for (let i = 0; i < (opts.warmup ?? 3); i++) step(i % chunks, rng, cfg.lr); // warm-up: JIT, page faults
    let steps = 0;
    const t0 = performance.now();
    let t = 0;
    while (t < opts.seconds || steps < (opts.minSteps ?? 5)) {
      step(steps % chunks, rng, cfg.lr);
      steps++;
      t = (performance.now() - t0) / 1000;
    }
    return { steps, seconds: t };
  } finally {
    await engine.dispose();
  }
}

// ---- the speed of this machine, for --time auto-sizing (src/train/autosize.ts) --------------------------------

/** What a calibration found: the reference workload's speed, and from it an estimate for any shape. */
export interface Calibration {
  /** "lstm 2×256 B50 T50 measured at 17.1k chars/s (4.12 GFLOP/s)" */
  reference: string;
  /** the reference's training characters per second, and its effective GFLOP/s (trainFlops per second) */
  charsPerSec: number;
  gflops: number;
  /** wall-clock seconds the measurement took, warm-up and set-up included (0 when given) */
  seconds: number;
  /**
   * Characters per second of a shape: the reference's own speed for the reference, else the reference's
   * GFLOP/s × the shape's efficiency (its rung's, in AUTOSIZE.LADDER) / its trainFlops per character.
   */
  speedOf: (s: Shape) => number;
}

/** The reference workload of auto-sizing at vocabulary size V. */
function referenceModel(vocabSize: number): { model: ModelConfig; batch: number; seq: number } {
  const r = AUTOSIZE.REFERENCE;
  return { model: { cell: r.cell, layers: r.layers, hidden: r.hidden, embed: 0, activation: "tanh", residual: false, vocabSize }, batch: r.batch, seq: r.seq };
}

/**
 * Times the reference workload (AUTOSIZE.REFERENCE at the run's vocabulary size, threads and kernels: the
 * training code path on synthetic text) for `seconds` after its warm-up, and derives the speed of any shape.
 */
export async function calibrate(opts: { kernels: () => Promise<Kernels>; threads: number; vocabSize: number; seconds: number }): Promise<Calibration> {
  const t0 = performance.now();
  const ref = referenceModel(opts.vocabSize);
  const { steps, seconds } = await timeTraining(ref.model, ref.batch, ref.seq, { ops: await opts.kernels(), threads: opts.threads, seconds: opts.seconds, warmup: 1, minSteps: 1 });
  const cal = calibrationOf((steps * ref.batch * ref.seq) / seconds, opts.vocabSize, "measured at");
  return { ...cal, seconds: (performance.now() - t0) / 1000 };
}

/** The calibration of a reference speed known without measuring (`how`: "measured at", "given as"). */
export function calibrationOf(charsPerSec: number, vocabSize: number, how: string): Calibration {
  const ref = referenceModel(vocabSize);
  const flopsPerChar = (s: { model: ModelConfig; batch: number; seq: number }) => trainFlops(s.model, s.batch, s.seq) / (s.batch * s.seq);
  const gflops = (charsPerSec * flopsPerChar(ref)) / 1e9;
  const m = ref.model;
  const isReference = ({ model: x, batch, seq }: Shape) => batch === ref.batch && seq === ref.seq && x.cell === m.cell && x.layers === m.layers &&
    x.hidden === m.hidden && x.embed === m.embed && x.forgetGate !== false && x.norm === undefined && x.vocabSize === m.vocabSize;
  return {
    reference: `${m.cell} ${m.layers}×${m.hidden} B${ref.batch} T${ref.seq} ${how} ${human(charsPerSec)} chars/s (${gflops.toFixed(2)} GFLOP/s)`,
    charsPerSec,
    gflops,
    seconds: 0,
    speedOf: (s) => (isReference(s) ? charsPerSec : (gflops * 1e9 * s.efficiency) / flopsPerChar(s)),
  };
}
