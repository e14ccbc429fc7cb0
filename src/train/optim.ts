// Optimizers and gradient clipping as flat loops over one slab, with exactly PyTorch's update rules
// (torch.optim.Adam / RMSprop / Adagrad / SGD, torch.nn.utils.clip_grad_norm_ / clip_grad_value_), so a
// run compares with PyTorch step for step.
//
// Optimizer state is one slab of `slots × P` elements (Adam: exp_avg then exp_avg_sq) plus a step count;
// both go into the run's state checkpoint.
import type { OptimizerKind } from "../config.ts";
import type { Arr, Kernels } from "../kernels/types.ts";

export interface OptimizerConfig {
  optimizer: OptimizerKind;
  momentum: number; // sgd
  beta1: number; // adam
  beta2: number; // adam
  eps: number;
  weightDecay: number; // L2, added to the gradient as PyTorch does
}

export interface OptimizerState {
  kind: OptimizerKind;
  /** [slots × P]: adam: exp_avg, exp_avg_sq; rmsprop: square_avg; adagrad: sum; sgd: momentum_buffer */
  slab: Arr;
  /** completed steps */
  step: number;
}

/** RMSprop's smoothing constant (PyTorch's default). */
export const RMSPROP_ALPHA = 0.99;
/** Adagrad's epsilon (PyTorch's default). */
export const ADAGRAD_EPS = 1e-10;

export function optimizerSlots(kind: OptimizerKind, momentum: number): number {
  return kind === "adam" ? 2 : kind === "sgd" ? (momentum > 0 ? 1 : 0) : 1;
}

export function createOptimizerState(cfg: OptimizerConfig, P: number, alloc: (n: number) => Arr): OptimizerState {
  return { kind: cfg.optimizer, slab: alloc(optimizerSlots(cfg.optimizer, cfg.momentum) * P), step: 0 };
}

/**
 * One update of params[P] from grads[P] at learning rate lr. grads are read, not changed. With ops (whose
 * memory holds params, grads and the state slab), Adam runs as the kernel ops.adam (SIMD, float32 like
 * torch); without, as the loop below (float64 arithmetic, rounded on store).
 */
export function optimizerStep(cfg: OptimizerConfig, st: OptimizerState, params: Arr, grads: Arr, lr: number, ops?: Kernels): void {
  const P = params.length;
  const wd = cfg.weightDecay;
  st.step++;
  const s = st.slab;
  switch (cfg.optimizer) {
    case "adam": {
      const { b1, b2, eps, stepSize, bc2Sqrt } = adamScalars(cfg, st.step, lr);
      if (ops) {
        ops.adam(params, s.subarray(0, P), s.subarray(P, 2 * P), grads, P, stepSize, b1, b2, bc2Sqrt, eps, wd);
        break;
      }
      for (let i = 0; i < P; i++) {
        const g = wd ? grads[i] + wd * params[i] : grads[i];
        const m = (s[i] = s[i] * b1 + (1 - b1) * g);
        const v = (s[P + i] = s[P + i] * b2 + (1 - b2) * g * g);
        params[i] -= (stepSize * m) / (Math.sqrt(v) / bc2Sqrt + eps);
      }
      break;
    }
    case "rmsprop": {
      const a = RMSPROP_ALPHA, eps = cfg.eps;
      for (let i = 0; i < P; i++) {
        const g = wd ? grads[i] + wd * params[i] : grads[i];
        const v = (s[i] = s[i] * a + (1 - a) * g * g);
        params[i] -= (lr * g) / (Math.sqrt(v) + eps);
      }
      break;
    }
    case "adagrad": {
      for (let i = 0; i < P; i++) {
        const g = wd ? grads[i] + wd * params[i] : grads[i];
        const v = (s[i] += g * g);
        params[i] -= (lr * g) / (Math.sqrt(v) + ADAGRAD_EPS);
      }
      break;
    }
    case "sgd": {
      const mu = cfg.momentum;
      for (let i = 0; i < P; i++) {
        let g = wd ? grads[i] + wd * params[i] : grads[i];
        if (mu > 0) g = s[i] = st.step === 1 ? g : mu * s[i] + g;
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
}

export function adamScalars(cfg: OptimizerConfig, step: number, lr: number): AdamScalars {
  const b1 = cfg.beta1, b2 = cfg.beta2;
  return { b1, b2, eps: cfg.eps, wd: cfg.weightDecay, stepSize: lr / (1 - Math.pow(b1, step)), bc2Sqrt: Math.sqrt(1 - Math.pow(b2, step)) };
}

/** Sum of squares of grads, accumulated in float64. */
export function sumSquares(g: Arr): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return s;
}

/**
 * Global-norm clipping, torch.nn.utils.clip_grad_norm_: scales grads by maxNorm / (‖g‖ + 1e-6) when that is
 * below 1. Returns the norm before clipping (NaN/Inf are returned as they are, so the caller can stop).
 * With ops (whose memory holds g), the sum of squares and the scaling run as kernels.
 */
export function clipGradNorm(g: Arr, maxNorm: number, ops?: Kernels): number {
  const norm = Math.sqrt(ops ? ops.sumSquares(g, g.length) : sumSquares(g));
  clipByNorm(g, norm, maxNorm, ops);
  return norm;
}

/** The scaling half of clipGradNorm, for a norm computed elsewhere (e.g. from per-thread partial sums). */
export function clipByNorm(g: Arr, norm: number, maxNorm: number, ops?: Kernels): void {
  if (maxNorm > 0 && Number.isFinite(norm)) {
    const coef = maxNorm / (norm + 1e-6);
    if (coef < 1) {
      if (ops) ops.scale(g, coef, g.length);
      else for (let i = 0; i < g.length; i++) g[i] *= coef;
    }
  }
}

/** Per-element clipping to [−v, v], torch.nn.utils.clip_grad_value_. */
export function clipGradValue(g: Arr, v: number): void {
  if (!(v > 0)) return;
  for (let i = 0; i < g.length; i++) g[i] = g[i] > v ? v : g[i] < -v ? -v : g[i];
}
