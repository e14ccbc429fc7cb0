// --norm: the normalisations of a recurrent layer (docs/model.md has the equations of each normalised cell).
// For the gate pre-activations a [G·H] of one layer:
//
//   a_t = γ_x ⊙ N(W_ih x_t) + b_ih + γ_h ⊙ N(W_hh h_{t−1}) + b_hh          (the existing biases are the β's)
//   lstm: also h_t = o ⊙ tanh(γ_c ⊙ N(c_t) + β_c), while c_t itself is carried unnormalised
//
// N is one of:
//   layer  layer normalisation (Ba, Kiros & Hinton 2016): over the G·H values of one row (one stream, one
//          step; for c_t its H units): N(x) = (x − μ_row) / √(σ²_row + ε). No statistics are kept: it works
//          the same at batch 1, in sampling and in training.
//   batch  recurrent batch normalisation (Cooijmans et al. 2016): per unit, over the B streams of each step —
//          W_ih x and W_hh h separately, and c_t — with the biased variance, ε = 1e-5, as PyTorch's BatchNorm in
//          training. Running estimates (EMA, momentum 0.1, the unbiased variance, as PyTorch) are kept per layer
//          and per normalised quantity, shared over the time steps (Cooijmans et al. keep one set per step; with
//          truncated BPTT and the state carried from chunk to chunk the steps of a chunk are statistically
//          alike, so rnn keeps one), in the checkpoint; validation, eval, sampling, predict and score normalise
//          with them. A step's statistics need ≥ 2 streams (--batch 1 is refused); data-parallel training
//          computes them over each thread's streams (as DDP without SyncBatchNorm), with at most ⌊B/2⌋ threads
//          so that every shard has 2, and only the first shard's (the main thread's) go into the estimates.
// Each normalisation is one of these objects; the normalised cells (cells/*-norm.ts) call it per quantity,
// over the T steps of the input projection at once, or one step of B rows at a time. The kernels save what
// backward needs: x̂ = N(x) and 1/σ (per row, or per column).
import type { Arr, Kernels } from "../kernels/types.ts";
import { stepViews } from "./layer.ts";

/** --norm's values ("none" is the field left out of the config). */
export type NormKind = "layer" | "batch";

/** How one forward pass normalises: set on the workspace by model.forward from its options. */
export interface NormMode {
  /** batch norm: this step's statistics over its B streams (training), not the running estimates */
  batchStats: boolean;
  /** batch norm: fold those statistics into the running estimates (one shard of a data-parallel step only) */
  updateStats: boolean;
}

/** Running estimates of one normalised quantity's per-unit mean and variance [n] (batch norm only). */
export interface RunningStats {
  mean: Arr;
  var: Arr;
}

export interface Normalisation {
  kind: NormKind;
  /** the prefix of a normalised cell's label: "ln" → "ln-lstm" */
  prefix: string;
  /** the gains' initial value */
  gain: number;
  /** keeps running statistics (buffers, not parameters): batch norm */
  running: boolean;
  /** the fewest streams a training step's statistics may be taken over (a data-parallel shard's too) */
  minStreams: number;
  /** 1/σ values saved per step of B rows over n columns */
  rstdSize(B: number, n: number): number;
  /**
   * y = γ ⊙ N(x) + β (no β when null) over `steps` consecutive steps of B rows of n columns, time-major; saves
   * x̂ [steps·B × n] and 1/σ [steps × rstdSize]. y may be x. `stats`: the quantity's running statistics, if kept.
   */
  forward(ops: Kernels, y: Arr, xhat: Arr, rstd: Arr, x: Arr, gamma: Arr, beta: Arr | null, stats: RunningStats | null, B: number, steps: number, n: number, mode: NormMode): void;
  /** Its gradient: dγ += Σ dy ⊙ x̂, dβ += Σ dy (unless null), dx = ∂L/∂x. dx may be dy or xhat. */
  backward(ops: Kernels, dx: Arr, dgamma: Arr | null, dbeta: Arr | null, dy: Arr, xhat: Arr, rstd: Arr, gamma: Arr, B: number, steps: number, n: number): void;
}

export const layerNorm: Normalisation = {
  kind: "layer",
  prefix: "ln",
  gain: 1,
  running: false,
  minStreams: 1,
  rstdSize: (B) => B,
  forward: (ops, y, xhat, rstd, x, gamma, beta, _stats, B, steps, n) => ops.layerNormForward(y, xhat, rstd, x, gamma, beta, B * steps, n),
  backward: (ops, dx, dgamma, dbeta, dy, xhat, rstd, gamma, B, steps, n) => ops.layerNormBackward(dx, dgamma, dbeta, dy, xhat, rstd, gamma, B * steps, n),
};

/** momentum of the running estimates, as PyTorch's BatchNorm */
export const BN_MOMENTUM = 0.1;

export const batchNorm: Normalisation = {
  kind: "batch",
  prefix: "bn",
  gain: 0.1,
  running: true,
  minStreams: 2,
  rstdSize: (_B, n) => n,
  forward(ops, y, xhat, rstd, x, gamma, beta, stats, B, steps, n, mode) {
    if (!mode.batchStats) return ops.batchNormInfer(y, x, gamma, beta, stats!.mean, stats!.var, B * steps, n);
    const up = mode.updateStats ? stats! : null;
    if (steps === 1) return ops.batchNormForward(y, xhat, rstd, up?.mean ?? null, up?.var ?? null, x, gamma, beta, B, n, BN_MOMENTUM);
    // the statistics of each step's B rows (views made once per array)
    const ys = stepViews(y, steps, B * n), hs = stepViews(xhat, steps, B * n), rs = stepViews(rstd, steps, n), xs = stepViews(x, steps, B * n);
    for (let s = 0; s < steps; s++) ops.batchNormForward(ys[s], hs[s], rs[s], up?.mean ?? null, up?.var ?? null, xs[s], gamma, beta, B, n, BN_MOMENTUM);
  },
  backward(ops, dx, dgamma, dbeta, dy, xhat, rstd, gamma, B, steps, n) {
    if (steps === 1) return ops.batchNormBackward(dx, dgamma, dbeta, dy, xhat, rstd, gamma, B, n);
    const dxs = stepViews(dx, steps, B * n), dys = stepViews(dy, steps, B * n), hs = stepViews(xhat, steps, B * n), rs = stepViews(rstd, steps, n);
    for (let s = 0; s < steps; s++) ops.batchNormBackward(dxs[s], dgamma, dbeta, dys[s], hs[s], rs[s], gamma, B, n);
  },
};

/** --norm's values, each the normalisation it selects */
export const NORMS = { layer: layerNorm, batch: batchNorm } as const satisfies Record<NormKind, Normalisation>;

/** A forward pass's mode from its options (model.ts ForwardOptions), in place. */
export function setNormMode(mode: NormMode, o: { training?: boolean; updateStats?: boolean }): void {
  mode.batchStats = !!o.training;
  mode.updateStats = !!o.training && (o.updateStats ?? true);
}
