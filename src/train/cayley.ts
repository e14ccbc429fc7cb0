// --ortho-opt cayley: every H × H gate block of every layer's W_hh (G blocks per layer, the cell's gate count)
// stays orthogonal throughout training, optimised on the orthogonal group with the Cayley retraction
// (src/model/orthogonal.ts has the equations).
//
// In the optimizer step (src/train/step.ts), around the usual update of the whole slab:
//   before(): each block W is kept in float64 and set to 0 in the parameters;
//   the optimizer (any of them, on any path) updates the slab as always: a block then holds −U, the update it
//     would have subtracted from W — every optimizer here works element by element and reads a parameter
//     only for its weight decay (L2 or decoupled), which is 0 there: weight decay does not apply to the blocks;
//   after(): W ← (I + A/2)⁻¹ (I − A/2) W with A = ½(U Wᵀ − W Uᵀ), in float64, rounded to float32 into the block;
//     every REORTHOGONALISE_EVERY optimizer steps, W first gets one Newton–Schulz step (W ← W(3I − WᵀW)/2),
//     which takes away the float32 rounding that would otherwise accumulate (as √steps) from step to step.
// The optimizer's state (Adam's moments, the momentum) is the usual one, from the gradients; nothing is added
// to the run's state, so a resumed run continues exactly. It runs on the calling thread, once per step.
//
// A new run starts orthogonal (startOrthogonal): a block that is not orthogonal (what --init xavier or pytorch
// drew, or a fine-tuned model's) is replaced by its nearest orthogonal matrix, the polar factor.
import { RnnError } from "../errors.ts";
import type { Arr } from "../kernels/types.ts";
import { type Model, pack } from "../model/model.ts";
import { cayleyRetract, newtonSchulzStep, orthoDeviation, orthoScratch, polarFactor, recurrentBlocks } from "../model/orthogonal.ts";

/**
 * ‖WᵀW − I‖_max above which a block is not taken as orthogonal at the start of a run. An orthogonal matrix
 * rounded to float32 is off by a few 1e-8 (H ≤ 1024).
 */
export const ORTHOGONAL_TOL = 1e-6;

/** Optimizer steps between the Newton–Schulz corrections of the blocks' float32 rounding (see the header). */
export const REORTHOGONALISE_EVERY = 100;

export interface CayleyStep {
  /** before the optimizer's update: keep every block (float64) and set it to 0 in the parameters */
  before(): void;
  /** after it: retract every block along the update the optimizer left in it; step: the optimizer's step count, 1-based */
  after(step: number): void;
}

export function cayleyStep(m: Model): CayleyStep {
  const H = m.cfg.hidden, HH = H * H;
  const blocks = recurrentBlocks(m);
  const kept = blocks.map(() => new Float64Array(HH)); // [H × H] each: W before the update
  const U = new Float64Array(HH); // [H × H]
  const scratch = orthoScratch(H);
  return {
    before() {
      blocks.forEach((b, i) => {
        kept[i].set(b);
        b.fill(0);
      });
    },
    after(step) {
      const correct = step % REORTHOGONALISE_EVERY === 0;
      blocks.forEach((b, i) => {
        for (let j = 0; j < HH; j++) U[j] = -b[j];
        if (correct) newtonSchulzStep(kept[i], H, scratch);
        cayleyRetract(kept[i], U, H, scratch);
        b.set(kept[i]);
      });
    },
  };
}

/** What startOrthogonal did: how many of the blocks it projected, and the largest ‖WᵀW − I‖_max before. */
export interface OrthoStart {
  blocks: number;
  projected: number;
  worst: number;
}

/**
 * Makes every block of a new run's model orthogonal: a block farther than ORTHOGONAL_TOL from it is replaced
 * by its polar factor (computed in float64); the others are left as they are. Repacks the model when it
 * changed anything.
 */
export function startOrthogonal(m: Model): OrthoStart {
  const H = m.cfg.hidden;
  const blocks = recurrentBlocks(m);
  const scratch = orthoScratch(H);
  const W = new Float64Array(H * H); // [H × H]
  let projected = 0, worst = 0;
  blocks.forEach((b: Arr, i) => {
    const dev = orthoDeviation(b, H);
    worst = Math.max(worst, dev);
    if (dev <= ORTHOGONAL_TOL) return;
    W.set(b);
    if (!polarFactor(W, H, scratch)) {
      const G = blocks.length / m.layers.length;
      throw new RnnError(`--ortho-opt cayley: gate block ${i % G} of layer ${Math.floor(i / G)}'s weight_hh is singular: it has no nearest orthogonal matrix to start from`);
    }
    b.set(W);
    projected++;
  });
  if (projected) pack(m);
  return { blocks: blocks.length, projected, worst };
}
