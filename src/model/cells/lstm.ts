// The LSTM cell with forget gate, exactly torch.nn.LSTM.
//
// Gate layout, PyTorch's order: rows of weight_ih [4H × In] / weight_hh [4H × H] / bias_ih, bias_hh [4H],
// and columns of the [B × 4H] gates of a step:
//   [0,  H)  i   input gate        [2H, 3H)  g   candidate
//   [H, 2H)  f   forget gate       [3H, 4H)  o   output gate
//
// Forward, step t = 1..T (model.forward has put x_t·W_ihᵀ + b_ih + b_hh of every step in L.gates):
//   [i f g o] = [σ σ tanh σ](W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)    activations, left in L.gates
//   c_t = f ⊙ c_{t−1} + i ⊙ g
//   h_t = o ⊙ tanh(c_t)
// Backward, step t = T..1 (torch-rnn's derivation), with dh = ∂L/∂h_t from above + carried from step t+1:
//   dc = ∂L/∂c_t carried from step t+1 + dh ⊙ o ⊙ (1 − tanh² c_t)
//   di = dc ⊙ g ⊙ i(1−i)    df = dc ⊙ c_{t−1} ⊙ f(1−f)    dg = dc ⊙ i ⊙ (1−g²)    do = dh ⊙ tanh(c_t) ⊙ o(1−o)
//   dc_{t−1} = dc ⊙ f,  dh_{t−1} = [di df dg do] · W_hh        carried (dropped at t = 1: truncated BPTT)
// The [di df dg do] of all steps stay in L.gates; model.backward makes the weight gradients from them.
import type { ModelConfig } from "../../config.ts";
import type { Arr, Kernels } from "../../kernels/types.ts";
import { type LayerBuffers, type LayerWeights, summedBackward } from "../layer.ts";
import type { LayerViews } from "../params.ts";
import { type Cell, type Probe, watchGates } from "./cell.ts";

export const lstm: Cell = {
  gates: ["i", "f", "g", "o"],
  state: ["h", "c"],
  hidden: "summed",
  takesActivation: false,
  label: () => "lstm",
  forward,
  backward,
  watched: (L, B, H) => {
    const cs = L.cs.subarray(B * H); // c_1..c_T [N × H]
    return [
      ...watchGates(lstm, L, H, ["sigmoid", "sigmoid", "tanh", "sigmoid"]),
      { name: "tanh c", fn: "tanh", at: (n, j) => Math.tanh(cs[n * H + j]) },
    ];
  },
};

function forward(ops: Kernels, L: LayerBuffers, W: LayerWeights, B: number, T: number, H: number): void {
  for (let t = 0; t < T; t++) {
    // the recurrent product goes to the small, hot scratch hhStep; the cell kernel adds it to the step's
    // input projection in L.gates as it reads it (same sum, and the GEMM never reads the large gates buffer)
    ops.gemmNT(L.hhStep, L.hAt[t], W.whh, B, 4 * H, H, false); // [B×4H] = h_{t-1}[B×H] · W_hhᵀ
    ops.lstmCellForward(L.hAt[t + 1], L.cAt[t + 1], L.gatesAt[t], L.cAt[t], B, H, L.hhStep);
  }
}

function backward(ops: Kernels, L: LayerBuffers, W: LayerWeights, _dW: LayerViews | null, dOut: Arr, B: number, T: number, H: number, _m: ModelConfig, probe?: Probe): void {
  L.dc.fill(0); // ∂L/∂c carried back from step t+1, accumulated by the cell kernel
  summedBackward(ops, L, W, dOut, B, T, H, 4, (t, dh, dh2) =>
    ops.lstmCellBackward(L.gatesAt[t], L.dc, dh, L.gatesAt[t], L.cAt[t + 1], L.cAt[t], B, H, dh2), probe); // gates → dGates in place
}
