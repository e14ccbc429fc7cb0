// What the normalised cells (--norm: rnn-norm.ts, lstm-norm.ts, gru-norm.ts) share: the input projection of
// all T steps normalised at once, the hidden projection of one step, and the backward of each. The
// normalisation itself (layer or batch, src/model/norm.ts) is the cell's `norm`; every quantity has its own
// gain γ (and running statistics, for batch norm), and the layer's existing biases are the β's:
//   input  x·W_ihᵀ [N × G·H] → γ_x ⊙ N(·) + b_ih (+ b_hh, for a cell whose hidden projection is summed into
//          its gates: both biases there, as unnormalised)
//   hidden h_{t−1}·W_hhᵀ [B × G·H] → γ_h ⊙ N(·) (+ b_hh, for the GRU, whose b_hn stays inside r ⊙ (…))
import type { Arr, Kernels } from "../../kernels/types.ts";
import type { LayerBuffers, LayerWeights } from "../layer.ts";
import type { Normalisation } from "../norm.ts";
import type { LayerViews } from "../params.ts";

/** L.gates [N × G·H] = γ_x ⊙ N(x·W_ihᵀ) + bias, in place: model.forward left x·W_ihᵀ there, without bias. */
export function normInput(ops: Kernels, norm: Normalisation, L: LayerBuffers, W: LayerWeights, bias: Arr, B: number, T: number, GH: number): void {
  const n = L.norm!;
  norm.forward(ops, L.gates, n.xhatX, n.rstdX, L.gates, W.gih!, bias, W.stats?.ih ?? null, B, T, GH, n.mode);
}

/** Step t's hidden projection hh [B × G·H] = γ_h ⊙ N(h_{t−1}·W_hhᵀ) (+ bias), in place. */
export function normHidden(ops: Kernels, norm: Normalisation, L: LayerBuffers, W: LayerWeights, hh: Arr, bias: Arr | null, t: number, B: number, GH: number): void {
  const n = L.norm!;
  norm.forward(ops, hh, n.xhatHAt[t], n.rstdHAt[t], hh, W.ghh!, bias, W.stats?.hh ?? null, B, 1, GH, n.mode);
}

/**
 * Step t's hidden normalisation backward: dy [B × G·H] = the gradient of its output → ∂L/∂(h_{t−1}·W_hhᵀ) in
 * L.norm.xhatHAt[t] (in place of x̂, which it no longer needs), returned; dγ_h (and dβ, given) into dW.
 */
export function normHiddenBackward(ops: Kernels, norm: Normalisation, L: LayerBuffers, W: LayerWeights, dW: LayerViews | null, dy: Arr, dbeta: Arr | null, t: number, B: number, GH: number): Arr {
  const n = L.norm!, dx = n.xhatHAt[t];
  norm.backward(ops, dx, dW?.ghh ?? null, dbeta, dy, dx, n.rstdHAt[t], W.ghh!, B, 1, GH);
  return dx;
}

/**
 * After the steps, the input side: L.gates [N × G·H] holds ∂L/∂(gate pre-activations). Into dW: the biases'
 * gradients (b_ih, and b_hh too when `summed`) and dγ_x; L.gates becomes ∂L/∂(x·W_ihᵀ), in place.
 */
export function normInputBackward(ops: Kernels, norm: Normalisation, L: LayerBuffers, W: LayerWeights, dW: LayerViews | null, B: number, T: number, GH: number, summed: boolean): void {
  const n = L.norm!;
  if (dW && summed) ops.biasBackward(dW.bhh, L.gates, B * T, GH); // b_hh is summed into the gates as b_ih is
  norm.backward(ops, L.gates, dW?.gih ?? null, dW?.bih ?? null, L.gates, n.xhatX, n.rstdX, W.gih!, B, T, GH);
}

/** Backward needs the statistics the forward pass saved: with batch norm, a forward with training: true. */
export function checkTrained(norm: Normalisation, L: LayerBuffers): void {
  if (norm.running && !L.norm!.mode.batchStats) throw new Error("batch norm: backward needs a forward pass with training: true (this step's statistics)");
}
