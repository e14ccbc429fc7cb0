// Orthogonal regularisation of the recurrent matrices: λ Σ_{layers, gate blocks} ‖W_gᵀ W_g − I‖²_F,
// where W_g [H × H] is one gate's block of rows of weight_hh. Its gradient is 4λ · W_g (W_gᵀ W_g − I).
// Pushes every recurrent map towards an orthogonal one (all singular values 1), so gradients through
// time neither vanish nor explode as fast.
import type { Arr } from "../kernels/types.ts";
import { gateCount } from "./cells/index.ts";
import type { Model } from "./model.ts";
import { type Slab, tensorNames } from "./params.ts";

export interface OrthoScratch {
  A: Arr; // [H × H]  W_gᵀ W_g − I
}

export function orthoScratch(m: Model): OrthoScratch {
  return { A: m.ops.alloc(m.cfg.hidden * m.cfg.hidden) };
}

/** Returns the penalty λ Σ ‖W_gᵀW_g − I‖²; adds its gradient into grads when given. */
export function orthoReg(m: Model, lambda: number, scratch: OrthoScratch, grads: Slab | null): number {
  const ops = m.ops, H = m.cfg.hidden, G = gateCount(m.cfg), HH = H * H;
  const A = scratch.A;
  let penalty = 0;
  m.layers.forEach((L, k) => {
    const gW = grads ? grads.views[tensorNames.layer(k).whh] : null;
    for (let g = 0; g < G; g++) {
      const W = L.whh.subarray(g * HH, (g + 1) * HH); // [H × H]
      A.fill(0);
      ops.gemmTNAcc(A, W, W, H, H, H); // A = Wᵀ W
      for (let i = 0; i < H; i++) A[i * H + i] -= 1;
      let s = 0;
      for (let i = 0; i < HH; i++) s += A[i] * A[i];
      penalty += lambda * s;
      if (gW) {
        // 4λ W A  (A is symmetric); scale A first so the GEMM accumulates straight into the gradient
        for (let i = 0; i < HH; i++) A[i] *= 4 * lambda;
        ops.gemmNN(gW.subarray(g * HH, (g + 1) * HH), W, A, H, H, H, true);
      }
    }
  });
  return penalty;
}
