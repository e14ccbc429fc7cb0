// The Elman cell, exactly torch.nn.RNN, with nonlinearity act = tanh or relu (--activation).
//
// Gate layout: one "gate", G = 1. weight_ih [H × In], weight_hh [H × H], bias_ih [H], bias_hh [H].
//
// Forward, step t = 1..T (model.forward has put x_t·W_ihᵀ + b_ih + b_hh of every step in L.gates):
//   a_t = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh        pre-activation, left in L.gates
//   h_t = act(a_t)
// Backward, step t = T..1, with dh_t = ∂L/∂h_t from above + the part carried back from step t+1:
//   da_t     = dh_t ⊙ act′(a_t)        tanh: 1 − h_t²;  relu: 1 where h_t > 0, else 0
//   dh_{t−1} = da_t · W_hh             carried to step t−1 (dropped at t = 1: truncated BPTT)
// The da_t of all steps stay in L.gates; model.backward makes the weight gradients from them (one GEMM each).
import type { Arr, Kernels } from "../../kernels/types.ts";
import type { ModelConfig } from "../../config.ts";
import { type LayerBuffers, type LayerWeights, summedBackward } from "../layer.ts";
import type { LayerViews } from "../params.ts";
import type { Cell, Probe } from "./cell.ts";

export const rnn: Cell = {
  gates: ["h"],
  state: ["h"],
  hidden: "summed",
  takesActivation: true,
  label: (m) => `rnn-${m.activation}`,
  forward,
  backward,
  // the pre-activations are in L.gates; the activations are the hidden states
  watched: (L, B, H, m) => {
    const hs = L.hs.subarray(B * H); // h_1..h_T [N × H]
    return [{ name: "h", fn: m.activation, at: (n, j) => hs[n * H + j] }];
  },
};

function forward(ops: Kernels, L: LayerBuffers, W: LayerWeights, B: number, T: number, H: number, m: ModelConfig): void {
  const relu = m.activation === "relu";
  for (let t = 0; t < T; t++) {
    ops.gemmNT(L.hhStep, L.hAt[t], W.whh, B, H, H, false); // [B×H] = h_{t-1}[B×H] · W_hhᵀ (hot scratch; see lstm.ts)
    ops.rnnCellForward(L.hAt[t + 1], L.gatesAt[t], B, H, relu, L.hhStep); // a_t = gates_t + hhStep, h_t = act(a_t)
  }
}

function backward(ops: Kernels, L: LayerBuffers, W: LayerWeights, _dW: LayerViews | null, dOut: Arr, B: number, T: number, H: number, m: ModelConfig, probe?: Probe): void {
  const relu = m.activation === "relu";
  summedBackward(ops, L, W, dOut, B, T, H, 1, (t, dh, dh2) =>
    ops.rnnCellBackward(L.gatesAt[t], dh, L.hAt[t + 1], B, H, relu, dh2), probe); // da_t, in place of a_t
}
