// Optimizers and gradient clipping over one slab, with exactly PyTorch's update rules (torch.optim.Adam /
// AdamW / RMSprop / Adagrad / SGD, torch.nn.utils.clip_grad_norm_ / clip_grad_value_), so a run compares with
// PyTorch step for step. Adam, the sum of squares and the clipping scale run as kernels (the memory of `ops`
// holds params, grads and the state slab); RMSprop, Adagrad and SGD are loops here.
//
// Optimizer state is one slab with a named [P] view per slot, as PyTorch names them in the optimizer's
// state_dict (Adam: exp_avg then exp_avg_sq), plus a step count; the run's state checkpoint saves the whole
// slab as one tensor.
import type { OptimizerKind } from "../config.ts";
import type { Arr, Kernels } from "../kernels/types.ts";
import { makeSlab, type ParamSpec, type Slab } from "../model/params.ts";

export interface OptimizerConfig {
  optimizer: OptimizerKind;
  momentum: number; // sgd
  beta1: number; // adam
  beta2: number; // adam
  eps: number;
  weightDecay: number; // L2, added to the gradient as PyTorch does; adamw: decoupled (p ← p·(1 − lr·wd))
}

/** The state each optimizer keeps per parameter, in slab order (SGD without momentum keeps none). */
export const OPTIMIZER_SLOTS = {
  adam: ["exp_avg", "exp_avg_sq"],
  rmsprop: ["square_avg"],
  adagrad: ["sum"],
  sgd: ["momentum_buffer"],
  adamw: ["exp_avg", "exp_avg_sq"],
} as const satisfies Record<OptimizerKind, readonly string[]>;

export type OptimizerSlot = (typeof OPTIMIZER_SLOTS)[OptimizerKind][number];

export interface OptimizerState {
  kind: OptimizerKind;
  /** [slots × P], one view per slot (optimizerSpec) */
  slab: Slab<OptimizerSlot>;
  /** completed steps */
  step: number;
}

/** RMSprop's smoothing constant (PyTorch's default). */
export const RMSPROP_ALPHA = 0.99;
/** Adagrad's epsilon (PyTorch's default). */
export const ADAGRAD_EPS = 1e-10;

/** The layout of the state slab for P parameters: one [P] tensor per slot. */
export function optimizerSpec(cfg: Pick<OptimizerConfig, "optimizer" | "momentum">, P: number): ParamSpec<OptimizerSlot> {
  const slots: readonly OptimizerSlot[] = cfg.optimizer === "sgd" && !(cfg.momentum > 0) ? [] : OPTIMIZER_SLOTS[cfg.optimizer];
  return { tensors: slots.map((name, i) => ({ name, shape: [P], offset: i * P, size: P })), size: slots.length * P };
}

export function createOptimizerState(cfg: OptimizerConfig, P: number, alloc: (n: number) => Arr): OptimizerState {
  return { kind: cfg.optimizer, slab: makeSlab(optimizerSpec(cfg, P), alloc), step: 0 };
}

/** The view of one slot of the state slab. */
export function slot(st: OptimizerState, name: OptimizerSlot): Arr {
  const v = st.slab.views[name];
  if (!v) throw new Error(`the ${st.kind} optimizer keeps no ${name}`);
  return v;
}

/** One update of params[P] from grads[P] at learning rate lr. grads are read, not changed. */
export function optimizerStep(cfg: OptimizerConfig, st: OptimizerState, params: Arr, grads: Arr, lr: number, ops: Kernels): void {
  const P = params.length;
  const wd = cfg.weightDecay;
  st.step++;
  switch (cfg.optimizer) {
    case "adam":
    case "adamw": // the decoupled decay is in adamScalars / adam()
      adam(ops, params, slot(st, "exp_avg"), slot(st, "exp_avg_sq"), grads, adamScalars(cfg, st.step, lr));
      break;
    case "rmsprop": {
      const a = RMSPROP_ALPHA, eps = cfg.eps, s = slot(st, "square_avg");
      for (let i = 0; i < P; i++) {
        const g = wd ? grads[i] + wd * params[i] : grads[i];
        const v = (s[i] = s[i] * a + (1 - a) * g * g);
        params[i] -= (lr * g) / (Math.sqrt(v) + eps);
      }
      break;
    }
    case "adagrad": {
      const s = slot(st, "sum");
      for (let i = 0; i < P; i++) {
        const g = wd ? grads[i] + wd * params[i] : grads[i];
        const v = (s[i] += g * g);
        params[i] -= (lr * g) / (Math.sqrt(v) + ADAGRAD_EPS);
      }
      break;
    }
    case "sgd": {
      const mu = cfg.momentum, s = mu > 0 ? slot(st, "momentum_buffer") : null;
      for (let i = 0; i < P; i++) {
        let g = wd ? grads[i] + wd * params[i] : grads[i];
        if (s) g = s[i] = st.step === 1 ? g : mu * s[i] + g;
        params[i] -= lr * g;
      }
      break;
    }
  }
}

/** The scalars of Adam's update number `step` (1-based), as torch.optim.Adam computes them. */
export interface AdamScalars {
  b1: number;
  b2: number;
  eps: number;
  wd: number;
  /** lr / (1 − b1^step) */
  stepSize: number;
  /** √(1 − b2^step) */
  bc2Sqrt: number;
  /** AdamW (torch.optim.AdamW, decoupled weight decay): the parameters are first multiplied by 1 − lr·wd,
   *  rounded to float32 as torch's float32 mul_ rounds it, and wd above is 0. Adam: 1 (nothing) */
  decay: number;
}

export function adamScalars(cfg: OptimizerConfig, step: number, lr: number): AdamScalars {
  const b1 = cfg.beta1, b2 = cfg.beta2;
  const decoupled = cfg.optimizer === "adamw";
  return {
    b1, b2, eps: cfg.eps, wd: decoupled ? 0 : cfg.weightDecay, stepSize: lr / (1 - Math.pow(b1, step)), bc2Sqrt: Math.sqrt(1 - Math.pow(b2, step)),
    decay: decoupled ? Math.fround(1 - lr * cfg.weightDecay) : 1,
  };
}

/**
 * The one Adam update: params p from gradient g with the state m (exp_avg) and v (exp_avg_sq), all of
 * g.length elements. optimizerStep runs it over the whole slab; the data-parallel engine runs it on every
 * thread over that thread's slice.
 */
export function adam(ops: Kernels, p: Arr, m: Arr, v: Arr, g: Arr, a: AdamScalars): void {
  if (a.decay !== 1) ops.scale(p, a.decay, p.length); // AdamW: p ← p · (1 − lr·wd), then Adam without wd
  ops.adam(p, m, v, g, g.length, a.stepSize, a.b1, a.b2, a.bc2Sqrt, a.eps, a.wd);
}

/**
 * Global-norm clipping's coefficient, as torch.nn.utils.clip_grad_norm_ computes it: maxNorm / (‖g‖ + 1e-6)
 * when that is below 1, else 1 (also with clipping off, maxNorm 0, and for a norm that is NaN/Inf).
 */
export function clipCoef(norm: number, maxNorm: number): number {
  return maxNorm > 0 && Number.isFinite(norm) ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
}

/**
 * Global-norm clipping, torch.nn.utils.clip_grad_norm_: scales grads by clipCoef. Returns the norm before
 * clipping (NaN/Inf are returned as they are, so the caller can stop).
 */
export function clipGradNorm(g: Arr, maxNorm: number, ops: Kernels): number {
  const norm = Math.sqrt(ops.sumSquares(g, g.length));
  const coef = clipCoef(norm, maxNorm);
  if (coef < 1) ops.scale(g, coef, g.length);
  return norm;
}

/** Per-element clipping to [−v, v], torch.nn.utils.clip_grad_value_. */
export function clipGradValue(g: Arr, v: number): void {
  if (!(v > 0)) return;
  for (let i = 0; i < g.length; i++) g[i] = g[i] > v ? v : g[i] < -v ? -v : g[i];
}
