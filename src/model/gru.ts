// The GRU cell, exactly torch.nn.GRU. Gate layout (rows of weight_ih / weight_hh / biases), PyTorch's order:
//   [0,  H)  r = σ(W_ir x + b_ir + W_hr h + b_hr)            reset gate
//   [H, 2H)  z = σ(W_iz x + b_iz + W_hz h + b_hz)            update gate
//   [2H,3H)  n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))   candidate (b_hn stays inside the r product)
//   h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
// Weights: weight_ih [3H × In], weight_hh [3H × H], bias_ih [3H], bias_hh [3H].
// Because of b_hn, the input half gx = x·W_ihᵀ + b_ih (in P, for all steps at once) and the hidden half
// gh = h·W_hhᵀ + b_hh (in GH, one step at a time) are kept apart.
import type { Arr, Kernels } from "../kernels/types.ts";
import { type LayerBuffers, type LayerWeights, probeDh, stepViews } from "./layer.ts";

/** P[N×3H]: in gx for every step, out the r, z, n activations (in place). */
export function gruLayerForward(ops: Kernels, L: LayerBuffers, W: LayerWeights, B: number, T: number, H: number): void {
  for (let t = 0; t < T; t++) {
    ops.gemmNTBias(L.GHt[t], L.Ht[t], W.whh, W.bhh, B, 3 * H, H); // [B×3H] = h_{t-1}[B×H] · W_hhᵀ + b_hh
    ops.gruCellForward(L.Ht[t + 1], L.Pt[t], L.Pt[t], L.GHt[t], L.Ht[t], B, H);
  }
}

/**
 * Leaves ∂L/∂gx in P and ∂L/∂gh in GH (both in place of what the forward pass left there).
 * probe (diagnostics only; absent in training): called with t = T…1 and the total ∂L/∂h_t [B×H] of each step,
 * then with t = 0 and ∂L/∂h_0, the gradient into the carried-in state (otherwise not computed).
 */
export function gruLayerBackward(ops: Kernels, L: LayerBuffers, W: LayerWeights, dOut: Arr, B: number, T: number, H: number, probe?: (t: number, dh: Arr) => void): void {
  const dO = stepViews(dOut, T, B * H); // ∂L/∂h_t from above, per step [B×H] (read only)
  if (probe) {
    L.dhNext.fill(0);
    for (let t = T - 1; t >= 0; t--) {
      probeDh(L, dO[t], t, B * H, probe);
      L.dhNext.fill(0);
      ops.gruCellBackward(L.Pt[t], L.GHt[t], L.dhNext, L.dh, L.Pt[t], L.GHt[t], L.Ht[t], B, H);
      ops.gemmNNPacked(L.dhNext, L.GHt[t], W.whhP, B, H, 3 * H, true); // [B×H] += dgh[B×3H] · W_hh[3H×H]
    }
    probe(0, L.dhNext); // ∂L/∂h_0, the carried-in state (dropped when not probed)
    return;
  }
  // ∂L/∂h_{t-1} is built in `next` while `carry` holds the part carried into step t; the cell kernel adds
  // dO[t] + carry itself
  let carry = L.dhNext, next = L.dh;
  for (let t = T - 1; t >= 0; t--) {
    next.fill(0);
    ops.gruCellBackward(L.Pt[t], L.GHt[t], next, dO[t], L.Pt[t], L.GHt[t], L.Ht[t], B, H, t < T - 1 ? carry : null);
    if (t > 0) ops.gemmNNPacked(next, L.GHt[t], W.whhP, B, H, 3 * H, true); // [B×H] += dgh[B×3H] · W_hh[3H×H]
    const x = carry;
    carry = next;
    next = x;
  }
}
