// --ortho-opt cayley: every H × H gate block of every layer's W_hh (G blocks per layer, the cell's gate count)
// stays orthogonal throughout training, optimised on the orthogonal group with the Cayley retraction
// (src/model/orthogonal.ts has the equations).
//
// In the optimizer step (src/train/step.ts), around the usual update of the whole slab:
//   before(): each block W is kept (float32, in the kernels' memory) and set to 0 in the parameters;
//   the optimizer (any of them, on any path) updates the slab as always: a block then holds −U, the update it
//     would have subtracted from W — every optimizer here works element by element and reads a parameter
//     only for its weight decay (L2 or decoupled), which is 0 there: weight decay does not apply to the blocks;
//   after(): W ← (I + A/2)⁻¹ (I − A/2) W with A = ½(U Wᵀ − W Uᵀ), rounded to float32 into the block: as the
//     series of float32 GEMMs of cayleySeries (3 + j products, j ≈ 2 for realistic steps), or, for a step
//     too large for it, the exact float64 LU (cayleyRetract); both agree to the float32 rounding of W.
//     Every REORTHOGONALISE_EVERY optimizer steps, W first gets one Newton–Schulz step (W ← W(3I − WᵀW)/2,
//     float64), which takes away the float32 rounding that would otherwise accumulate (as √steps) from step
//     to step.
// The blocks are independent: with a data-parallel engine (src/train/parallel.ts) each thread retracts its
// share (block i on thread i mod threads, retractShare), with the same arithmetic per block on any thread,
// so the thread count does not change a byte. The optimizer's state (Adam's moments, the momentum) is the
// usual one, from the gradients; nothing is added to the run's state, so a resumed run continues exactly.
//
// A new run starts orthogonal (startOrthogonal): a block that is not orthogonal (what --init xavier or pytorch
// drew, or a fine-tuned model's) is replaced by its nearest orthogonal matrix, the polar factor.
import { RnnError } from "../errors.ts";
import type { Arr } from "../kernels/types.ts";
import { type Model, pack } from "../model/model.ts";
import type { Kernels } from "../kernels/types.ts";
import {
  cayleyRetract, cayleySeries, newtonSchulzStep, orthoDeviation, type OrthoScratch, orthoScratch, polarFactor, recurrentBlocks,
  type SeriesScratch, seriesScratch,
} from "../model/orthogonal.ts";
import type { Engine } from "./engine.ts";

/**
 * ‖WᵀW − I‖_max above which a block is not taken as orthogonal at the start of a run. An orthogonal matrix
 * rounded to float32 is off by a few 1e-8 (H ≤ 1024).
 */
export const ORTHOGONAL_TOL = 1e-6;

/** Optimizer steps between the Newton–Schulz corrections of the blocks' float32 rounding (see the header). */
export const REORTHOGONALISE_EVERY = 100;

export interface CayleyStep {
  /** before the optimizer's update: keep every block and set it to 0 in the parameters */
  before(): void;
  /** after it: retract every block along the update the optimizer left in it; step: the optimizer's step count, 1-based */
  after(step: number): void;
}

/** One thread's buffers for retracting [n × n] blocks: the series' (float32, kernels' memory) and the exact path's (float64). */
export interface RetractScratch {
  f32: SeriesScratch;
  f64: OrthoScratch;
  /** [n × n] W, then the retracted W (float64: Newton–Schulz, the exact fallback) */
  W: Float64Array;
  /** [n × n] U (the exact fallback) */
  U: Float64Array;
}

export function retractScratch(ops: Kernels, n: number): RetractScratch {
  return { f32: seriesScratch(n, (k) => ops.alloc(k)), f64: orthoScratch(n), W: new Float64Array(n * n), U: new Float64Array(n * n) };
}

/**
 * The blocks i ≡ part (mod parts) of one step: block [n × n] holds −U on entry and the retracted W on exit;
 * kept [n × n] holds W (and keeps the Newton–Schulz-corrected W on a correction step). The same arithmetic for a
 * block on whichever thread runs it.
 */
export function retractShare(ops: Kernels, blocks: Arr[], kept: Arr[], n: number, step: number, part: number, parts: number, s: RetractScratch): void {
  const correct = step % REORTHOGONALISE_EVERY === 0;
  for (let i = part; i < blocks.length; i += parts) {
    const b = blocks[i], W = kept[i];
    if (correct) {
      s.W.set(W);
      newtonSchulzStep(s.W, n, s.f64);
      W.set(s.W);
    }
    if (cayleySeries(ops, b, W, b, n, s.f32)) continue;
    // a step too large for the series: the exact LU, in float64
    s.W.set(W);
    for (let j = 0; j < n * n; j++) s.U[j] = -b[j];
    cayleyRetract(s.W, s.U, n, s.f64);
    b.set(s.W);
  }
}

/** The views of the kept blocks in a slab of nBlocks × [n × n] (the same layout on every thread). */
export function keptViews(slab: Arr, nBlocks: number, n: number): Arr[] {
  return Array.from({ length: nBlocks }, (_, i) => slab.subarray(i * n * n, (i + 1) * n * n));
}

/** engine: where it can spread the blocks over its threads (Engine.cayleyRetract), it does. */
export function cayleyStep(m: Model, engine?: Engine): CayleyStep {
  const H = m.cfg.hidden, ops = m.ops;
  const blocks = recurrentBlocks(m);
  const slab = ops.alloc(blocks.length * H * H); // [blocks × H × H]: each W before the update
  const kept = keptViews(slab, blocks.length, H);
  const scratch = retractScratch(ops, H);
  return {
    before() {
      blocks.forEach((b, i) => {
        kept[i].set(b);
        b.fill(0);
      });
    },
    after(step) {
      const mine = (part: number, parts: number) => retractShare(ops, blocks, kept, H, step, part, parts, scratch);
      if (engine?.cayleyRetract) engine.cayleyRetract(slab, step, mine);
      else mine(0, 1);
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
