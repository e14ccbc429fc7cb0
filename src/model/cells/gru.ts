// The GRU cell, exactly torch.nn.GRU.
//
// Gate layout, PyTorch's order: rows of weight_ih [3H × In] / weight_hh [3H × H] / bias_ih, bias_hh [3H]:
//   [0, H)  r  reset gate      [H, 2H)  z  update gate      [2H, 3H)  n  candidate
//
// Because b_hn stays inside the r product, the input half gx = W_ih x_t + b_ih (model.forward puts it in
// L.gates for every step at once) and the hidden half gh = W_hh h_{t−1} + b_hh (L.hh, one step at a time)
// are kept apart ("kept" hidden projection).
// Forward, step t = 1..T:
//   r = σ(gx_r + gh_r)    z = σ(gx_z + gh_z)    n = tanh(gx_n + r ⊙ gh_n)     activations, left in L.gates
//   h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
// Backward, step t = T..1, with dh = ∂L/∂h_t from above + carried from step t+1:
//   dn = dh ⊙ (1−z) ⊙ (1−n²)    dz = dh ⊙ (h_{t−1} − n) ⊙ z(1−z)    dr = dn ⊙ gh_n ⊙ r(1−r)
//   dgx = [dr dz dn] (in L.gates),  dgh = [dr dz dn⊙r] (in L.hh)
//   dh_{t−1} = dh ⊙ z + dgh · W_hh        carried (dropped at t = 1: truncated BPTT)
// model.backward makes the weight gradients from dgx (W_ih, b_ih) and dgh (W_hh, b_hh).
import type { ModelConfig } from "../../config.ts";
import type { Arr, Kernels } from "../../kernels/types.ts";
import { type LayerBuffers, type LayerWeights, probeDh, stepViews } from "../layer.ts";
import type { LayerViews } from "../params.ts";
import { type Cell, type Probe, watchGates } from "./cell.ts";

export const gru: Cell = {
  gates: ["r", "z", "n"],
  state: ["h"],
  hidden: "kept",
  takesActivation: false,
  label: () => "gru",
  forward,
  backward,
  watched: (L, _B, H) => watchGates(gru, L, H, ["sigmoid", "sigmoid", "tanh"]),
};

function forward(ops: Kernels, L: LayerBuffers, W: LayerWeights, B: number, T: number, H: number): void {
  for (let t = 0; t < T; t++) {
    ops.gemmNTBias(L.hhAt[t], L.hAt[t], W.whh, W.bhh, B, 3 * H, H); // gh [B×3H] = h_{t-1}[B×H] · W_hhᵀ + b_hh
    ops.gruCellForward(L.hAt[t + 1], L.gatesAt[t], L.gatesAt[t], L.hhAt[t], L.hAt[t], B, H); // gx → r, z, n in place
  }
}

function backward(ops: Kernels, L: LayerBuffers, W: LayerWeights, _dW: LayerViews | null, dOut: Arr, B: number, T: number, H: number, _m: ModelConfig, probe?: Probe): void {
  gruSteps(ops, L, W, dOut, B, T, H, (t) => L.hhAt[t], probe);
}

/**
 * Backpropagation through the T steps of a GRU layer. After step t's cell kernel (dgx into L.gates, dgh into
 * L.hh), dHidden(t) returns ∂L/∂(hidden projection) of the step [B×3H] — dgh itself, or (a normalised GRU,
 * gru-norm.ts) its gradient before normalisation — which is carried back through W_hh.
 */
export function gruSteps(ops: Kernels, L: LayerBuffers, W: LayerWeights, dOut: Arr, B: number, T: number, H: number, dHidden: (t: number) => Arr, probe?: Probe): void {
  const dO = stepViews(dOut, T, B * H); // ∂L/∂h_t from above, per step [B×H] (read only)
  if (probe) {
    L.dhNext.fill(0);
    for (let t = T - 1; t >= 0; t--) {
      probeDh(L, dO[t], t, B * H, probe);
      L.dhNext.fill(0);
      ops.gruCellBackward(L.gatesAt[t], L.hhAt[t], L.dhNext, L.dh, L.gatesAt[t], L.hhAt[t], L.hAt[t], B, H);
      ops.gemmNNPacked(L.dhNext, dHidden(t), W.whhP, B, H, 3 * H, true); // [B×H] += dgh[B×3H] · W_hh[3H×H]
    }
    probe(0, L.dhNext); // ∂L/∂h_0, the carried-in state (dropped when not probed)
    return;
  }
  // ∂L/∂h_{t-1} is built in `next` while `carry` holds the part carried into step t; the cell kernel adds
  // dO[t] + carry itself
  let carry = L.dhNext, next = L.dh;
  for (let t = T - 1; t >= 0; t--) {
    next.fill(0);
    ops.gruCellBackward(L.gatesAt[t], L.hhAt[t], next, dO[t], L.gatesAt[t], L.hhAt[t], L.hAt[t], B, H, t < T - 1 ? carry : null);
    const dgh = dHidden(t);
    if (t > 0) ops.gemmNNPacked(next, dgh, W.whhP, B, H, 3 * H, true); // [B×H] += dgh[B×3H] · W_hh[3H×H]
    const x = carry;
    carry = next;
    next = x;
  }
}
