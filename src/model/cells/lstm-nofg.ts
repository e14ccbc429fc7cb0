// The LSTM without forget gate: Hochreiter & Schmidhuber's 1997 cell, `--cell lstm --no-forget-gate`.
// PyTorch has no such module; its reference is NoForgetLSTM in test/reference/char_rnn.py (torch ops).
//
// Design. It is its own entry (NO_FORGET_GATE.lstm in index.ts), not the LSTM with f held at 1: three gate
// blocks, no dead rows. The checkpoint keeps cell "lstm" and adds forgetGate false (a checkpoint without the
// field has a forget gate, as every one before it); the tensors keep nn.LSTM's names with G = 3.
//
// Gate layout, nn.LSTM's order with f left out: rows of weight_ih [3H × In] / weight_hh [3H × H] / bias_ih,
// bias_hh [3H], and columns of the [B × 3H] gates of a step:
//   [0, H)  i   input gate        [H, 2H)  g   candidate        [2H, 3H)  o   output gate
//
// Forward, step t = 1..T (model.forward has put x_t·W_ihᵀ + b_ih + b_hh of every step in L.gates):
//   [i g o] = [σ tanh σ](W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)    activations, left in L.gates
//   c_t = c_{t−1} + i ⊙ g                                           (the constant error carousel: f ≡ 1)
//   h_t = o ⊙ tanh(c_t)
// Backward, step t = T..1, with dh = ∂L/∂h_t from above + carried from step t+1. The LSTM's, with f = 1:
//   dc = ∂L/∂c_t carried from step t+1 + dh ⊙ o ⊙ (1 − tanh² c_t)
//   di = dc ⊙ g ⊙ i(1−i)    dg = dc ⊙ i ⊙ (1−g²)    do = dh ⊙ tanh(c_t) ⊙ o(1−o)
//   dc_{t−1} = dc,  dh_{t−1} = [di dg do] · W_hh        carried (dropped at t = 1: truncated BPTT)
// No c_{t−1} is read backward (there is no df). ∂c_t/∂c_{t−1} = I: the error carried along c neither vanishes
// nor explodes — and c_t = c_0 + Σ i ⊙ g is a sum that nothing ever forgets. Over a continuous stream with
// the state carried from chunk to chunk it can only drift, ‖c_t‖ growing with t, tanh(c_t) saturating and
// o ⊙ tanh(c_t) losing its gradient (Gers, Schmidhuber & Cummins 2000): `rnn diagnose` shows ‖c_t‖ by step.
import type { ModelConfig } from "../../config.ts";
import type { Arr, Kernels } from "../../kernels/types.ts";
import { type LayerBuffers, type LayerWeights, summedBackward } from "../layer.ts";
import type { LayerViews } from "../params.ts";
import { type Cell, type Probe, watchGates } from "./cell.ts";

export const lstmNoForget: Cell = {
  gates: ["i", "g", "o"],
  state: ["h", "c"],
  hidden: "summed",
  takesActivation: false,
  label: () => "lstm-nofg",
  forward,
  backward,
  watched: (L, B, H) => {
    const cs = L.cs.subarray(B * H); // c_1..c_T [N × H]
    return [
      ...watchGates(lstmNoForget, L, H, ["sigmoid", "tanh", "sigmoid"]),
      { name: "tanh c", fn: "tanh", at: (n, j) => Math.tanh(cs[n * H + j]) },
    ];
  },
};

function forward(ops: Kernels, L: LayerBuffers, W: LayerWeights, B: number, T: number, H: number): void {
  for (let t = 0; t < T; t++) {
    ops.gemmNT(L.hhStep, L.hAt[t], W.whh, B, 3 * H, H, false); // [B×3H] = h_{t-1}[B×H] · W_hhᵀ (hot scratch; see lstm.ts)
    ops.lstmNoForgetCellForward(L.hAt[t + 1], L.cAt[t + 1], L.gatesAt[t], L.cAt[t], B, H, L.hhStep);
  }
}

function backward(ops: Kernels, L: LayerBuffers, W: LayerWeights, _dW: LayerViews | null, dOut: Arr, B: number, T: number, H: number, _m: ModelConfig, probe?: Probe): void {
  L.dc.fill(0); // ∂L/∂c carried back from step t+1, accumulated by the cell kernel
  summedBackward(ops, L, W, dOut, B, T, H, 3, (t, dh, dh2) =>
    ops.lstmNoForgetCellBackward(L.gatesAt[t], L.dc, dh, L.gatesAt[t], L.cAt[t + 1], B, H, dh2), probe); // gates → dGates in place
}
