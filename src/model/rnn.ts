// The Elman cell, exactly torch.nn.RNN:
//   h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),  act = tanh or relu
// Weights: weight_ih [H × In], weight_hh [H × H], bias_ih [H], bias_hh [H]  (one "gate", G = 1).
// Before these run, P holds x_t·W_ihᵀ + b_ih + b_hh for every step (one GEMM or gather for the chunk).
import type { Arr, Kernels } from "../kernels/types.ts";
import { type LayerBuffers, type LayerWeights, probeDh, stepViews } from "./layer.ts";

/** P[N×H]: in x-projection + biases, out h activations' pre-activations; Hs blocks 1..T = h_t. */
export function rnnLayerForward(ops: Kernels, L: LayerBuffers, W: LayerWeights, B: number, T: number, H: number, relu: boolean): void {
  for (let t = 0; t < T; t++) {
    ops.gemmNT(L.G, L.Ht[t], W.whh, B, H, H, false); // [B×H] = h_{t-1}[B×H] · W_hhᵀ (hot scratch; see lstm.ts)
    ops.rnnCellForward(L.Ht[t + 1], L.Pt[t], B, H, relu, L.G); // P_t += G, h_t = act(P_t)
  }
}

/**
 * dOut[N×H] = ∂L/∂h_t for t = 1..T from above. Leaves ∂L/∂pre in P (for the weight-gradient GEMMs).
 * The gradient into h0 is dropped (truncated BPTT).
 * probe (diagnostics only; absent in training): called with t = T…1 and the total ∂L/∂h_t [B×H] of each step,
 * then with t = 0 and ∂L/∂h_0, the gradient into the carried-in state (otherwise not computed).
 */
export function rnnLayerBackward(ops: Kernels, L: LayerBuffers, W: LayerWeights, dOut: Arr, B: number, T: number, H: number, relu: boolean, probe?: (t: number, dh: Arr) => void): void {
  const dO = stepViews(dOut, T, B * H); // ∂L/∂h_t from above, per step [B×H] (read only)
  L.dhNext.fill(0);
  for (let t = T - 1; t >= 0; t--) {
    // total ∂L/∂h_t = dO[t] + the part carried from step t+1 (dhNext), summed inside the cell kernel
    let dh = dO[t], dh2: Arr | null = t < T - 1 ? L.dhNext : null;
    if (probe) {
      dh = probeDh(L, dh, t, B * H, probe);
      dh2 = null;
    }
    ops.rnnCellBackward(L.Pt[t], dh, L.Ht[t + 1], B, H, relu, dh2);
    if (t > 0 || probe) ops.gemmNNPacked(L.dhNext, L.Pt[t], W.whhP, B, H, H, false); // [B×H] = dPre[B×H] · W_hh[H×H]
  }
  if (probe) probe(0, L.dhNext); // ∂L/∂h_0, the carried-in state (dropped when not probed)
}
