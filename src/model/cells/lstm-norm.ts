// The LSTM with its projections and its cell state normalised (--norm layer | batch; src/model/norm.ts), with
// forget gate (lstm.ts, gates i f g o) or without (lstm-nofg.ts, i g o; f ≡ 1 below):
//   [ĩ f̃ g̃ õ] = γ_x ⊙ N(W_ih x_t) + b_ih + γ_h ⊙ N(W_hh h_{t−1}) + b_hh
//   i = σ(ĩ)   f = σ(f̃)   g = tanh(g̃)   o = σ(õ)
//   c_t = f ⊙ c_{t−1} + i ⊙ g                     carried unnormalised (Ba et al. 2016; Cooijmans et al. 2016)
//   h_t = o ⊙ tanh(γ_c ⊙ N(c_t) + β_c)
// Forward, step t: the hidden projection normalised in the hot scratch hhStep (both biases are on the input
// side, normInput); lstmNormCellForward makes the gates and c_t; c_t is normalised into L.norm.tcs, which
// lstmNormOutForward turns into tanh(γ_c ⊙ ĉ_t + β_c) (kept for backward) and h_t.
// Backward, step t = T..1, with dh = ∂L/∂h_t (from above + carried):
//   dcn = dh ⊙ o ⊙ (1 − tanh²(·)),  dõ = dh ⊙ tanh(·) ⊙ o(1−o)        lstmNormOutBackward
//   ∂L/∂c_t = carried dc + N's backward of dcn (with γ_c's and β_c's gradients)
//   dĩ, df̃, dg̃ as lstm.ts's, dc_{t−1} = ∂L/∂c_t ⊙ f                  lstmNormCellBackward
// then the hidden normalisation's backward and the carry through W_hh (summedBackward), and the input side.
import type { Normalisation } from "../norm.ts";
import { summedBackward } from "../layer.ts";
import { type Cell, type Nonlinearity, watchGates } from "./cell.ts";
import { lstm } from "./lstm.ts";
import { lstmNoForget } from "./lstm-nofg.ts";
import { checkTrained, normHidden, normHiddenBackward, normInput, normInputBackward } from "./normed.ts";

export function normedLstm(norm: Normalisation, forget: boolean): Cell {
  const base = forget ? lstm : lstmNoForget, G = base.gates.length;
  const fns: Nonlinearity[] = forget ? ["sigmoid", "sigmoid", "tanh", "sigmoid"] : ["sigmoid", "tanh", "sigmoid"];
  const cell: Cell = {
    gates: base.gates,
    state: base.state,
    hidden: "summed",
    norm,
    takesActivation: false,
    label: (m) => `${norm.prefix}-${base.label(m)}`,
    forward(ops, L, W, B, T, H) {
      const n = L.norm!, GH = G * H;
      normInput(ops, norm, L, W, W.bsum, B, T, GH);
      for (let t = 0; t < T; t++) {
        ops.gemmNT(L.hhStep, L.hAt[t], W.whh, B, GH, H, false); // [B×GH] = h_{t-1}[B×H] · W_hhᵀ
        normHidden(ops, norm, L, W, L.hhStep, null, t, B, GH);
        ops.lstmNormCellForward(L.cAt[t + 1], L.gatesAt[t], L.cAt[t], B, H, forget, L.hhStep);
        norm.forward(ops, n.tcAt[t], n.xhatCAt[t], n.rstdCAt[t], L.cAt[t + 1], W.gc!, W.bc!, W.stats?.c ?? null, B, 1, H, n.mode); // γ_c ⊙ N(c_t) + β_c
        ops.lstmNormOutForward(L.hAt[t + 1], n.tcAt[t], L.gatesAt[t], B, H, forget); // tanh of it, h_t
      }
    },
    backward(ops, L, W, dW, dOut, B, T, H, _m, probe) {
      checkTrained(norm, L);
      const n = L.norm!, GH = G * H;
      L.dc.fill(0); // ∂L/∂c carried back from step t+1, accumulated by the cell kernel
      summedBackward(ops, L, W, dOut, B, T, H, G, (t, dh, dh2) => {
        ops.lstmNormOutBackward(L.gatesAt[t], n.dcn, dh, n.tcAt[t], L.gatesAt[t], B, H, forget, dh2);
        norm.backward(ops, n.dcn, dW?.gc ?? null, dW?.bc ?? null, n.dcn, n.xhatCAt[t], n.rstdCAt[t], W.gc!, B, 1, H); // ∂L/∂c_t through h_t
        ops.lstmNormCellBackward(L.gatesAt[t], L.dc, n.dcn, L.gatesAt[t], L.cAt[t], B, H, forget);
        normHiddenBackward(ops, norm, L, W, dW, L.gatesAt[t], null, t, B, GH);
      }, probe, n.xhatHAt);
      normInputBackward(ops, norm, L, W, dW, B, T, GH, true);
    },
    watched: (L, _B, H) => [
      ...watchGates(cell, L, H, fns),
      { name: "tanh c", fn: "tanh", at: (r, j) => L.norm!.tcs[r * H + j] }, // the tanh h_t is made with
    ],
  };
  return cell;
}
