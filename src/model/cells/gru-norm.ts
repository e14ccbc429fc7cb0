// The GRU with its projections normalised (--norm layer | batch; src/model/norm.ts): gru.ts's cell with
//   gx = γ_x ⊙ N(x_t W_ihᵀ) + b_ih        gh = γ_h ⊙ N(h_{t−1} W_hhᵀ) + b_hh        [B × 3H] each, kept apart
//   r = σ(gx_r + gh_r)    z = σ(gx_z + gh_z)    n = tanh(gx_n + r ⊙ gh_n)    h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
// so b_hn stays inside r ⊙ (γ_h ⊙ N(W_hn h) + b_hn), as in nn.GRU; the normalisation runs over all 3H values of
// each projection. Forward: the input side of every step first (normInput, with b_ih), then per step the hidden
// projection into L.hh, normalised there with b_hh, and gru.ts's kernel.
// Backward: gru.ts's steps; after each, the hidden normalisation's backward turns dgh into ∂L/∂(h_{t−1}·W_hhᵀ)
// (with b_hh's and γ_h's gradients), which is carried back through W_hh. Then the input side (normInputBackward).
import type { Normalisation } from "../norm.ts";
import type { Cell } from "./cell.ts";
import { gru, gruSteps } from "./gru.ts";
import { checkTrained, normHidden, normHiddenBackward, normInput, normInputBackward } from "./normed.ts";

export function normedGru(norm: Normalisation): Cell {
  return {
    gates: gru.gates,
    state: gru.state,
    hidden: "kept",
    norm,
    takesActivation: false,
    label: (m) => `${norm.prefix}-${gru.label(m)}`,
    forward(ops, L, W, B, T, H) {
      normInput(ops, norm, L, W, W.bih, B, T, 3 * H);
      for (let t = 0; t < T; t++) {
        ops.gemmNT(L.hhAt[t], L.hAt[t], W.whh, B, 3 * H, H, false); // [B×3H] = h_{t-1}[B×H] · W_hhᵀ
        normHidden(ops, norm, L, W, L.hhAt[t], W.bhh, t, B, 3 * H); // gh = γ_h ⊙ N(·) + b_hh
        ops.gruCellForward(L.hAt[t + 1], L.gatesAt[t], L.gatesAt[t], L.hhAt[t], L.hAt[t], B, H); // gx → r, z, n in place
      }
    },
    backward(ops, L, W, dW, dOut, B, T, H, _m, probe) {
      checkTrained(norm, L);
      gruSteps(ops, L, W, dOut, B, T, H, (t) => normHiddenBackward(ops, norm, L, W, dW, L.hhAt[t], dW?.bhh ?? null, t, B, 3 * H), probe);
      normInputBackward(ops, norm, L, W, dW, B, T, 3 * H, false);
    },
    watched: (L, B, H, m) => gru.watched(L, B, H, m),
  };
}
