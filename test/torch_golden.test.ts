// Our model against PyTorch 1.13, number for number. The fixtures (test/fixtures/torch-*.json, written by
// test/reference/make_fixtures.py) hold, for rnn-tanh / rnn-relu / lstm / gru / lstm-nofg (the LSTM without
// forget gate: test/reference/char_rnn.py's NoForgetLSTM, torch ops), each also with --norm layer ("ln-…") and
// --norm batch ("bn-…": char_rnn.py's NormedRNN, torch ops, in training mode; gains and running statistics
// spread away from their initial values; the running statistics after the forward pass and after the
// trajectory are compared too) × one-hot / embedding input
// (V=11, H=8, L=2, B=3 — 8 for batch norm —, T=5, float32, a non-zero carried state): PyTorch's parameters, logits, mean loss,
// final state, every parameter gradient, and 10 steps of Adam (lr 1e-2) with clip_grad_norm_ on the same
// batch. Each is replayed through forward()/backward()/clipGradNorm()/optimizerStep() with the float32
// reference kernels, and with the WASM kernels when src/kernels/wasm.ts exists. test/fixtures/adamw-*.json (same
// script): 10 torch.optim.AdamW steps (weight decay 0.1, decoupled, with a learning rate that changes every
// step: the decay multiplies each step's rate) with clipping, replayed through --optimizer adamw's update.
//
// Tolerance. Both sides compute in float32 but sum in different orders, so an element's rounding error is
// about ε₃₂ · (magnitude of the terms summed into it), not ε₃₂ · |its value|: a gradient element that is
// the small difference of larger contributions carries an absolute error set by the tensor's scale. So each
// element is held to  |ours − torch| ≤ tol · max(|torch|, scale)  with scale = the tensor's max-abs value
// (as every element is at most scale, this is tol relative to the tensor's largest element: a norm-wise
// relative bound). tol = 1e-5 for one forward/backward (≈ 100 × ε₃₂ of headroom); 1e-4 after 10 Adam steps,
// whose update m/(√v+ε) divides small, noisy gradients by their own size and so amplifies the rounding.
//
// --ortho-opt cayley (test/fixtures/cayley-*.json, test/reference/cayley.py): rnn one-hot and lstm with an
// embedding, × Adam and SGD with momentum (weight decay 0.01 on all but the recurrent blocks), every gate block
// of weight_hh orthogonal at the start; 10 steps of the update with each block retracted on the orthogonal
// group (torch.linalg.solve in float64). Replayed through optimizerStep and src/train/cayley.ts's step, held
// to the same 1e-4, and every final block orthogonal to 1e-6.
//
// Batch norm (over the 8 streams of a step) is worse conditioned: its outputs and gradients are differences of
// nearly cancelling terms over few rows, and each side's float32 result is ~5e-6 from the float64 one (measured:
// our reference in float64 against both), so one forward/backward is held to 3e-5.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { ModelConfig, NormKind } from "../src/config.ts";
import { refF32 } from "../src/kernels/ref.ts";
import type { Kernels } from "../src/kernels/types.ts";
import { backward, createModel, createState, createWorkspace, forward, type Model, pack } from "../src/model/model.ts";
import { makeSlab, type Slab } from "../src/model/params.ts";
import { orthoDeviation, recurrentBlocks } from "../src/model/orthogonal.ts";
import { cayleyStep } from "../src/train/cayley.ts";
import { clipGradNorm, createOptimizerState, type OptimizerConfig, optimizerStep } from "../src/train/optim.ts";

interface Fixture {
  config: { cell: "rnn" | "lstm" | "gru"; forgetGate?: false; norm?: NormKind; activation: "tanh" | "relu"; V: number; H: number; L: number; E: number; B: number; T: number };
  params: Record<string, number[]>;
  inputs: number[][]; // [T][B]
  targets: number[][]; // [T][B]
  h0: number[][][]; // [L][B][H]
  c0?: number[][][];
  logits: number[][][]; // [T][B][V]
  loss: number;
  h_n: number[][][];
  c_n?: number[][][];
  grads: Record<string, number[]>;
  adam: { lr: number; betas: [number, number]; eps: number; clip: number; steps: number };
  trajectory: number[];
  grad_norms: number[];
  final_params: Record<string, number[]>;
  /** batch norm: the running statistics before, after the one forward pass, and after the trajectory */
  buffers?: Record<string, number[]>;
  buffers_step?: Record<string, number[]>;
  final_buffers?: Record<string, number[]>;
}

const FIXTURES = new URL("./fixtures/", import.meta.url);
const files = readdirSync(FIXTURES).filter((f) => /^torch-.*\.json$/.test(f)).sort();
const fixtures: [string, Fixture][] = files.map((f) => [f.replace(/^torch-|\.json$/g, ""), JSON.parse(readFileSync(new URL(f, FIXTURES), "utf8"))]);

/** test/fixtures/cayley-*.json (make_fixtures.py's make_cayley_case) */
interface CayleyFixture extends Pick<Fixture, "config" | "params" | "inputs" | "targets" | "h0" | "c0" | "trajectory" | "grad_norms" | "final_params"> {
  optimizer: { kind: "adam"; lr: number; betas: [number, number]; eps: number; weight_decay: number } | { kind: "sgd"; lr: number; momentum: number; weight_decay: number };
  clip: number;
  steps: number;
}
const cayleyFiles = readdirSync(FIXTURES).filter((f) => /^cayley-.*\.json$/.test(f)).sort();
const cayleyFixtures: [string, CayleyFixture][] = cayleyFiles.map((f) => [f.replace(/^cayley-|\.json$/g, ""), JSON.parse(readFileSync(new URL(f, FIXTURES), "utf8"))]);

const ONE_STEP_TOL = 1e-5;
const BATCH_NORM_ONE_STEP_TOL = 3e-5;
const TRAJECTORY_TOL = 1e-4;

/** Worst element of |got − want| / max(|want|, max-abs(want)) (see the tolerance note at the top). */
function maxErr(got: ArrayLike<number>, want: ArrayLike<number>): { err: number; at: number } {
  if (got.length !== want.length) throw new Error(`length ${got.length} ≠ ${want.length}`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let err = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    const e = d === 0 ? 0 : d / Math.max(Math.abs(want[i]), scale);
    if (!(e <= err)) [err, at] = [e, i]; // NaN counts as worst
  }
  return { err, at };
}

function expectClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: number): number {
  const { err, at } = maxErr(got, want);
  expect(err, `${what}: worst element ${at}: ours ${got[at]}, torch ${want[at]}`).toBeLessThanOrEqual(tol);
  return err;
}

const flat = (a: number[][] | number[][][]): number[] => (a as unknown[]).flat(2) as number[];

interface Setup {
  m: Model;
  ws: ReturnType<typeof createWorkspace>;
  st: ReturnType<typeof createState>;
  grads: Slab;
  /** set the carried state back to the fixture's h0 / c0 */
  resetState(): void;
}

function setup(ops: Kernels, fx: Fixture): Setup {
  const c = fx.config;
  const cfg: ModelConfig = { cell: c.cell, layers: c.L, hidden: c.H, embed: c.E, activation: c.activation, residual: false, vocabSize: c.V };
  if (c.forgetGate === false) cfg.forgetGate = false;
  if (c.norm) cfg.norm = c.norm;
  const m = createModel(cfg, ops);
  // the fixture names exactly our tensors, with exactly their sizes
  expect(Object.keys(fx.params).sort()).toEqual(m.spec.tensors.map((t) => t.name).sort());
  for (const t of m.spec.tensors) {
    expect(fx.params[t.name].length, t.name).toBe(t.size);
    m.params.views[t.name].set(fx.params[t.name]);
  }
  expect(Object.keys(fx.buffers ?? {}).sort()).toEqual(m.stats.spec.tensors.map((t) => t.name).sort());
  for (const t of m.stats.spec.tensors) m.stats.views[t.name].set(fx.buffers![t.name]);
  pack(m);
  const { B, T, H } = c;
  const ws = createWorkspace(m, B, T);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      ws.idx[t * B + b] = fx.inputs[t][b];
      ws.targets[t * B + b] = fx.targets[t][b];
    }
  }
  const st = createState(m, B);
  const resetState = () => {
    for (let l = 0; l < c.L; l++) {
      st.h[l].set(flat(fx.h0[l])); // [B × H]
      if (c.cell === "lstm") st.c[l].set(flat(fx.c0![l]));
    }
  };
  expect(st.h[0].length).toBe(B * H);
  const grads = makeSlab(m.spec, (n) => ops.alloc(n));
  return { m, ws, st, grads, resetState };
}

/** One forward + backward from the fixture's parameters and state; returns the worst errors seen. */
function checkOneStep(ops: Kernels, fx: Fixture): Record<string, number> {
  const { m, ws, st, grads, resetState } = setup(ops, fx);
  const { B, T, L, cell } = fx.config;
  const tol = fx.config.norm === "batch" ? BATCH_NORM_ONE_STEP_TOL : ONE_STEP_TOL;
  resetState();
  const r = forward(m, ws, st, { grad: true, training: true }); // PyTorch's module is in training mode
  expect(r.count).toBe(B * T);
  const errs: Record<string, number> = {};
  errs.loss = Math.abs(r.lossSum / r.count - fx.loss) / Math.abs(fx.loss);
  expect(errs.loss, `loss: ours ${r.lossSum / r.count}, torch ${fx.loss}`).toBeLessThanOrEqual(tol);
  errs.logits = expectClose("logits", ws.logits, flat(fx.logits), tol); // [T][B][V] ≡ [N × V] time-major
  const hN: number[] = [], hWant: number[] = [], cN: number[] = [], cWant: number[] = [];
  for (let l = 0; l < L; l++) {
    hN.push(...st.h[l]);
    hWant.push(...flat(fx.h_n[l]));
    if (cell === "lstm") {
      cN.push(...st.c[l]);
      cWant.push(...flat(fx.c_n![l]));
    }
  }
  errs.h_n = expectClose("h_n", hN, hWant, tol);
  if (cell === "lstm") errs.c_n = expectClose("c_n", cN, cWant, tol);
  backward(m, ws, grads);
  let g = 0;
  for (const t of m.spec.tensors) g = Math.max(g, expectClose(`grad ${t.name}`, grads.views[t.name], fx.grads[t.name], tol));
  errs.grads = g;
  let b = 0;
  for (const t of m.stats.spec.tensors) b = Math.max(b, expectClose(`${t.name} after the step`, m.stats.views[t.name], fx.buffers_step![t.name], tol));
  if (m.stats.spec.tensors.length) errs.stats = b;
  return errs;
}

/** 10 Adam steps with clipping on the same batch, each from h0; returns the worst errors seen. */
function checkTrajectory(ops: Kernels, fx: Fixture): Record<string, number> {
  const { m, ws, st, grads, resetState } = setup(ops, fx);
  const a = fx.adam;
  const ocfg: OptimizerConfig = { optimizer: "adam", momentum: 0, beta1: a.betas[0], beta2: a.betas[1], eps: a.eps, weightDecay: 0 };
  const opt = createOptimizerState(ocfg, m.spec.size, (n) => ops.alloc(n));
  const losses: number[] = [], norms: number[] = [];
  for (let s = 0; s < a.steps; s++) {
    resetState();
    grads.data.fill(0);
    const r = forward(m, ws, st, { grad: true, training: true });
    losses.push(r.lossSum / r.count);
    backward(m, ws, grads);
    norms.push(clipGradNorm(grads.data, a.clip, ops)); // through the kernels, as training runs it
    optimizerStep(ocfg, opt, m.params.data, grads.data, a.lr, ops);
    pack(m);
  }
  // the fixture does exercise clipping (make_fixtures.py asserts it too)
  expect(fx.grad_norms.some((n) => n > a.clip)).toBe(true);
  const errs: Record<string, number> = {};
  errs.trajectory = expectClose("loss trajectory", losses, fx.trajectory, TRAJECTORY_TOL);
  errs.gradNorms = expectClose("pre-clip gradient norms", norms, fx.grad_norms, TRAJECTORY_TOL);
  let p = 0;
  for (const t of m.spec.tensors) p = Math.max(p, expectClose(`final ${t.name}`, m.params.views[t.name], fx.final_params[t.name], TRAJECTORY_TOL));
  errs.finalParams = p;
  let b = 0;
  for (const t of m.stats.spec.tensors) b = Math.max(b, expectClose(`final ${t.name}`, m.stats.views[t.name], fx.final_buffers![t.name], TRAJECTORY_TOL));
  if (m.stats.spec.tensors.length) errs.finalStats = b;
  return errs;
}

/** 10 steps of --ortho-opt cayley on the same batch, each from h0; returns the worst errors seen. */
function checkCayley(ops: Kernels, fx: CayleyFixture): Record<string, number> {
  const { m, ws, st, grads, resetState } = setup(ops, fx as unknown as Fixture);
  const o = fx.optimizer;
  const ocfg: OptimizerConfig = o.kind === "adam"
    ? { optimizer: "adam", momentum: 0, beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weight_decay }
    : { optimizer: "sgd", momentum: o.momentum, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.weight_decay };
  const opt = createOptimizerState(ocfg, m.spec.size, (n) => ops.alloc(n));
  const cayley = cayleyStep(m);
  const losses: number[] = [], norms: number[] = [];
  for (let s = 0; s < fx.steps; s++) {
    resetState();
    grads.data.fill(0);
    const r = forward(m, ws, st, { grad: true });
    losses.push(r.lossSum / r.count);
    backward(m, ws, grads);
    norms.push(clipGradNorm(grads.data, fx.clip, ops));
    cayley.before();
    optimizerStep(ocfg, opt, m.params.data, grads.data, o.lr, ops);
    cayley.after(opt.step);
    pack(m);
  }
  expect(fx.grad_norms.some((n) => n > fx.clip)).toBe(true);
  const errs: Record<string, number> = {};
  errs.trajectory = expectClose("loss trajectory", losses, fx.trajectory, TRAJECTORY_TOL);
  errs.gradNorms = expectClose("pre-clip gradient norms", norms, fx.grad_norms, TRAJECTORY_TOL);
  let p = 0;
  for (const t of m.spec.tensors) p = Math.max(p, expectClose(`final ${t.name}`, m.params.views[t.name], fx.final_params[t.name], TRAJECTORY_TOL));
  errs.finalParams = p;
  errs.orthogonality = Math.max(...recurrentBlocks(m).map((b) => orthoDeviation(b, fx.config.H)));
  expect(errs.orthogonality).toBeLessThan(1e-6);
  return errs;
}

/** Set RNN_GOLDEN_VERBOSE=1 to see the worst errors per fixture. */
function report(label: string, errs: Record<string, number>): void {
  if (process.env.RNN_GOLDEN_VERBOSE) {
    console.log(`${label}: ${Object.entries(errs).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(", ")}`);
  }
}

interface AdamWFixture extends Pick<Fixture, "config" | "params" | "inputs" | "targets" | "h0" | "c0" | "trajectory" | "grad_norms" | "final_params"> {
  adamw: { lrs: number[]; betas: [number, number]; eps: number; weight_decay: number; clip: number; steps: number };
}
const adamwFixtures: [string, AdamWFixture][] = readdirSync(FIXTURES).filter((f) => /^adamw-.*\.json$/.test(f)).sort()
  .map((f) => [f.replace(/\.json$/, ""), JSON.parse(readFileSync(new URL(f, FIXTURES), "utf8"))]);

/** 10 steps of `optimizer` with clipping and the fixture's changing learning rate, each from h0. */
function replayAdamW(ops: Kernels, fx: AdamWFixture, optimizer: "adamw" | "adam") {
  const { m, ws, st, grads, resetState } = setup(ops, fx as unknown as Fixture);
  const a = fx.adamw;
  const ocfg: OptimizerConfig = { optimizer, momentum: 0, beta1: a.betas[0], beta2: a.betas[1], eps: a.eps, weightDecay: optimizer === "adamw" ? a.weight_decay : 0 };
  const opt = createOptimizerState(ocfg, m.spec.size, (n) => ops.alloc(n));
  const losses: number[] = [], norms: number[] = [];
  for (let s = 0; s < a.steps; s++) {
    resetState();
    grads.data.fill(0);
    const r = forward(m, ws, st, { grad: true });
    losses.push(r.lossSum / r.count);
    backward(m, ws, grads);
    norms.push(clipGradNorm(grads.data, a.clip, ops));
    optimizerStep(ocfg, opt, m.params.data, grads.data, a.lrs[s], ops);
    pack(m);
  }
  return { m, losses, norms };
}

/** 10 AdamW steps against torch.optim.AdamW's; returns the worst errors seen. */
function checkAdamW(ops: Kernels, fx: AdamWFixture): Record<string, number> {
  const { m, losses, norms } = replayAdamW(ops, fx, "adamw");
  expect(fx.grad_norms.some((n) => n > fx.adamw.clip)).toBe(true);
  const errs: Record<string, number> = {};
  errs.trajectory = expectClose("loss trajectory", losses, fx.trajectory, TRAJECTORY_TOL);
  errs.gradNorms = expectClose("pre-clip gradient norms", norms, fx.grad_norms, TRAJECTORY_TOL);
  let p = 0;
  for (const t of m.spec.tensors) p = Math.max(p, expectClose(`final ${t.name}`, m.params.views[t.name], fx.final_params[t.name], TRAJECTORY_TOL));
  errs.finalParams = p;
  // the decay is really there: Adam without it ends far outside the tolerance
  const plain = replayAdamW(ops, fx, "adam").m;
  errs.withoutDecay = Math.max(...plain.spec.tensors.map((t) => maxErr(plain.params.views[t.name], fx.final_params[t.name]).err));
  expect(errs.withoutDecay).toBeGreaterThan(10 * TRAJECTORY_TOL);
  return errs;
}

function suite(ops: Kernels): void {
  it("has the AdamW fixtures", () => expect(adamwFixtures.map(([n]) => n)).toEqual(["adamw-gru-onehot", "adamw-lstm-embed"]));
  for (const [name, fx] of adamwFixtures) {
    it(`${name}: 10 AdamW steps (decoupled weight decay 0.1, changing lr) with gradient clipping`, () => report(`${ops.name} ${name}`, checkAdamW(ops, fx)));
  }
  it("has all 30 fixtures", () => {
    const plain = [
      "gru-embed", "gru-onehot", "lstm-embed", "lstm-nofg-embed", "lstm-nofg-onehot", "lstm-onehot", "rnn-relu-embed", "rnn-relu-onehot",
      "rnn-tanh-embed", "rnn-tanh-onehot",
    ];
    expect(fixtures.map(([n]) => n)).toEqual([...plain, ...plain.map((n) => `ln-${n}`), ...plain.map((n) => `bn-${n}`)].sort());
  });
  for (const [name, fx] of fixtures) {
    it(`${name}: logits, loss, final state and every gradient`, () => report(`${ops.name} ${name} one step`, checkOneStep(ops, fx)));
    it(`${name}: 10 Adam steps with gradient clipping`, () => report(`${ops.name} ${name} adam`, checkTrajectory(ops, fx)));
  }
  it("has the 4 --ortho-opt cayley fixtures", () => {
    expect(cayleyFixtures.map(([n]) => n)).toEqual(["lstm-adam", "lstm-sgd", "rnn-adam", "rnn-sgd"]);
  });
  for (const [name, fx] of cayleyFixtures) {
    it(`cayley ${name}: 10 steps with every recurrent block retracted on the orthogonal group`, () => report(`${ops.name} cayley ${name}`, checkCayley(ops, fx)));
  }
}

describe("against PyTorch: float32 reference kernels", () => suite(refF32));

// The WASM backend, loaded by URL so typechecking does
// not depend on it.
const wasmUrl = new URL("../src/kernels/wasm.ts", import.meta.url);
const wasmKernels: Kernels | null = existsSync(wasmUrl)
  ? await (async () => {
      const mod = (await import(wasmUrl.href)) as { createWasmKernels(): Kernels | Promise<Kernels> };
      return await mod.createWasmKernels();
    })()
  : null;

describe.skipIf(!wasmKernels)("against PyTorch: WASM kernels", () => {
  if (wasmKernels) suite(wasmKernels);
});
