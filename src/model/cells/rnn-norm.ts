// The Elman cell with its projections normalised (--norm layer | batch; src/model/norm.ts): rnn.ts's cell with
//   a_t = γ_x ⊙ N(W_ih x_t) + b_ih + γ_h ⊙ N(W_hh h_{t−1}) + b_hh        pre-activation, left in L.gates
//   h_t = act(a_t)                                                          act = tanh | relu (--activation)
// Forward, step t: the input side of every step was normalised first (normInput, with b_ih + b_hh); the step's
// h_{t−1}·W_hhᵀ goes to the hot scratch hhStep, is normalised there (γ_h, no β: both biases are on the input
// side) and added to the gates by rnn.ts's kernel.
// Backward, step t = T..1: rnn.ts's kernel gives da_t in L.gates; the hidden normalisation's backward turns it
// into ∂L/∂(h_{t−1}·W_hhᵀ) (normHiddenBackward), which is carried back through W_hh. Then the input side
// (normInputBackward): the biases' and γ_x's gradients, and ∂L/∂(x·W_ihᵀ) in L.gates.
import type { Normalisation } from "../norm.ts";
import { summedBackward } from "../layer.ts";
import type { Cell } from "./cell.ts";
import { checkTrained, normHidden, normHiddenBackward, normInput, normInputBackward } from "./normed.ts";
import { rnn } from "./rnn.ts";

export function normedRnn(norm: Normalisation): Cell {
  return {
    gates: rnn.gates,
    state: rnn.state,
    hidden: "summed",
    norm,
    takesActivation: true,
    label: (m) => `${norm.prefix}-${rnn.label(m)}`,
    forward(ops, L, W, B, T, H, m) {
      const relu = m.activation === "relu";
      normInput(ops, norm, L, W, W.bsum, B, T, H);
      for (let t = 0; t < T; t++) {
        ops.gemmNT(L.hhStep, L.hAt[t], W.whh, B, H, H, false); // [B×H] = h_{t-1}[B×H] · W_hhᵀ
        normHidden(ops, norm, L, W, L.hhStep, null, t, B, H);
        ops.rnnCellForward(L.hAt[t + 1], L.gatesAt[t], B, H, relu, L.hhStep); // a_t = gates_t + hhStep, h_t = act(a_t)
      }
    },
    backward(ops, L, W, dW, dOut, B, T, H, m, probe) {
      checkTrained(norm, L);
      const relu = m.activation === "relu";
      summedBackward(ops, L, W, dOut, B, T, H, 1, (t, dh, dh2) => {
        ops.rnnCellBackward(L.gatesAt[t], dh, L.hAt[t + 1], B, H, relu, dh2); // da_t, in place of a_t
        normHiddenBackward(ops, norm, L, W, dW, L.gatesAt[t], null, t, B, H);
      }, probe, L.norm!.xhatHAt);
      normInputBackward(ops, norm, L, W, dW, B, T, H, true);
    },
    watched: rnn.watched,
  };
}
