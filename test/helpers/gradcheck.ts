// Float64 central-difference gradient check (torch-rnn's gradcheck, for a whole parameter slab).
// Compares the analytic gradient of a scalar loss with the five-point central difference
//   (−L(θ+2ε) + 8L(θ+ε) − 8L(θ−ε) + L(θ−2ε)) / 12ε
// for every element, and returns the worst relative error |a − n| / max(|a| + |n|, floor). The fourth-order
// stencil lets ε be large (1e-3) so float64 round-off in L stays far below the 1e-6 we demand, even for
// gradient elements of size 1e-6.
import type { ModelConfig } from "../../src/config.ts";
import { refF64 } from "../../src/kernels/ref.ts";
import type { Arr } from "../../src/kernels/types.ts";
import { initParams } from "../../src/model/init.ts";
import { createModel, createState, createWorkspace, type Model, pack, type State, type Workspace } from "../../src/model/model.ts";
import { makeRng } from "../../src/rng.ts";

export interface GradcheckResult {
  maxRelError: number;
  worst: { index: number; analytic: number; numeric: number };
  checked: number;
}

export function gradcheck(theta: Arr, analytic: Arr, loss: () => number, opts: { eps?: number; floor?: number; indices?: number[] } = {}): GradcheckResult {
  const eps = opts.eps ?? 1e-3;
  const floor = opts.floor ?? 1e-6; // below this, |a − n| ≤ 1e-12 counts as exact
  const indices = opts.indices ?? [...Array(theta.length).keys()];
  let maxRelError = 0;
  let worst = { index: -1, analytic: 0, numeric: 0 };
  for (const i of indices) {
    const old = theta[i];
    const at = (d: number): number => {
      theta[i] = old + d;
      return loss();
    };
    const numeric = (-at(2 * eps) + 8 * at(eps) - 8 * at(-eps) + at(-2 * eps)) / (12 * eps);
    theta[i] = old;
    const a = analytic[i];
    const rel = Math.abs(a - numeric) / Math.max(Math.abs(a) + Math.abs(numeric), floor);
    if (rel > maxRelError) {
      maxRelError = rel;
      worst = { index: i, analytic: a, numeric };
    }
  }
  return { maxRelError, worst, checked: indices.length };
}

export interface Setup {
  m: Model;
  ws: Workspace;
  st: State;
  setState: () => void;
}

/**
 * A small float64 model with one chunk of random inputs and targets and a random, non-zero carried state h0
 * (and c0), for gradient checks. setState() restores that state before each forward pass.
 */
export function setup(
  mc: ModelConfig, opts: { B?: number; T?: number; dropout?: boolean; dropoutInput?: boolean; weightDrop?: boolean; init?: "pytorch" | "orthogonal" } = {},
): Setup {
  const B = opts.B ?? 2, T = opts.T ?? 4;
  const m = createModel(mc, refF64);
  const rng = makeRng(7);
  initParams(m, { init: opts.init ?? "pytorch", forgetBias: null }, rng);
  if ((opts.init ?? "pytorch") === "pytorch") {
    for (let i = 0; i < m.params.data.length; i++) m.params.data[i] *= 1.5; // every path carries real signal
    pack(m);
  }
  const ws = createWorkspace(m, B, T, { dropout: opts.dropout, dropoutInput: opts.dropoutInput, weightDrop: opts.weightDrop });
  for (let i = 0; i < B * T; i++) {
    ws.idx[i] = rng.int(mc.vocabSize);
    ws.targets[i] = rng.int(mc.vocabSize);
  }
  const h0 = createState(m, B);
  for (const a of [...h0.h, ...h0.c]) for (let i = 0; i < a.length; i++) a[i] = rng.uniform(-0.8, 0.8);
  const st = createState(m, B);
  const setState = () => {
    h0.h.forEach((a, l) => st.h[l].set(a));
    h0.c.forEach((a, l) => st.c[l].set(a));
  };
  return { m, ws, st, setState };
}
