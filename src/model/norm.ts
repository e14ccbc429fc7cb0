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
// Each normalisation is one of these objects; the normalised cells (cells/*-norm.ts) call it per quantity,
// over the T steps of the input projection at once, or one step of B rows at a time. The kernels save what
// backward needs: x̂ = N(x) and 1/σ (per row).
import type { Arr, Kernels } from "../kernels/types.ts";

/** --norm's values ("none" is the field left out of the config). */
export type NormKind = "layer";

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
  rstdSize: (B) => B,
  forward: (ops, y, xhat, rstd, x, gamma, beta, _stats, B, steps, n) => ops.layerNormForward(y, xhat, rstd, x, gamma, beta, B * steps, n),
  backward: (ops, dx, dgamma, dbeta, dy, xhat, rstd, gamma, B, steps, n) => ops.layerNormBackward(dx, dgamma, dbeta, dy, xhat, rstd, gamma, B * steps, n),
};

/** --norm's values, each the normalisation it selects */
export const NORMS = { layer: layerNorm } as const satisfies Record<NormKind, Normalisation>;

/** A forward pass's mode from its options (model.ts ForwardOptions), in place. */
export function setNormMode(mode: NormMode, o: { training?: boolean; updateStats?: boolean }): void {
  mode.batchStats = !!o.training;
  mode.updateStats = !!o.training && (o.updateStats ?? true);
}
