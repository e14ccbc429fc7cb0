// The LSTM cell with forget gate, exactly torch.nn.LSTM. Gate layout (rows of weight_ih / weight_hh /
// biases, and columns of the fused [B × 4H] gate buffer), PyTorch's order:
//   [0,  H)  i = σ(W_ii x + b_ii + W_hi h + b_hi)   input gate
//   [H, 2H)  f = σ(W_if x + b_if + W_hf h + b_hf)   forget gate
//   [2H,3H)  g = tanh(W_ig x + b_ig + W_hg h + b_hg) candidate
//   [3H,4H)  o = σ(W_io x + b_io + W_ho h + b_ho)   output gate
//   c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
// Weights: weight_ih [4H × In], weight_hh [4H × H], bias_ih [4H], bias_hh [4H].
// Backward (torch-rnn's derivation): with dc = ∂L/∂c_t carried + dh ⊙ o ⊙ (1 − tanh²c_t),
//   di = dc⊙g⊙i(1−i), df = dc⊙c_{t−1}⊙f(1−f), dg = dc⊙i⊙(1−g²), do = dh⊙tanh(c_t)⊙o(1−o), dc_{t−1} = dc⊙f.
import type { Arr, Kernels } from "../kernels/types.ts";
import { type LayerBuffers, type LayerWeights, probeDh, stepViews } from "./layer.ts";

export function lstmLayerForward(ops: Kernels, L: LayerBuffers, W: LayerWeights, B: number, T: number, H: number): void {
  const Cs = L.Ct;
  for (let t = 0; t < T; t++) {
    // the recurrent product goes to the small, hot scratch G; the cell kernel adds it to the step's input
    // projection in P as it reads it (same sum, and the GEMM never reads P)
    ops.gemmNT(L.G, L.Ht[t], W.whh, B, 4 * H, H, false); // [B×4H] = h_{t-1}[B×H] · W_hhᵀ
    ops.lstmCellForward(L.Ht[t + 1], Cs[t + 1], L.Pt[t], Cs[t], B, H, L.G);
  }
}

/**
 * probe (diagnostics only; absent in training): called with t = T…1 and the total ∂L/∂h_t [B×H] of each step,
 * then with t = 0 and ∂L/∂h_0, the gradient into the carried-in state (otherwise not computed).
 */
export function lstmLayerBackward(ops: Kernels, L: LayerBuffers, W: LayerWeights, dOut: Arr, B: number, T: number, H: number, probe?: (t: number, dh: Arr) => void): void {
  const dO = stepViews(dOut, T, B * H); // ∂L/∂h_t from above, per step [B×H] (read only)
  L.dhNext.fill(0);
  L.dc.fill(0);
  for (let t = T - 1; t >= 0; t--) {
    // total ∂L/∂h_t = dO[t] + the part carried from step t+1 (dhNext), summed inside the cell kernel
    let dh = dO[t], dh2: Arr | null = t < T - 1 ? L.dhNext : null;
    if (probe) {
      dh = probeDh(L, dh, t, B * H, probe);
      dh2 = null;
    }
    ops.lstmCellBackward(L.Pt[t], L.dc, dh, L.Pt[t], L.Ct[t + 1], L.Ct[t], B, H, dh2); // gates → dGates in place
    if (t > 0 || probe) ops.gemmNNPacked(L.dhNext, L.Pt[t], W.whhP, B, H, 4 * H, false); // [B×H] = dGates[B×4H] · W_hh[4H×H]
  }
  if (probe) probe(0, L.dhNext); // ∂L/∂h_0, the carried-in state (dropped when not probed)
}
