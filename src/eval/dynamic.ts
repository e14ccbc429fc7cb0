// Dynamic evaluation (Krause, Kahembwe, Murray & Renals 2018, "Dynamic Evaluation of Neural Sequence
// Models"): the model keeps learning from the text as it reads it.
//
// The text is scored exactly as createEvaluator scores it (evaluate.ts: one stream from a zero state, chunks of
// T characters, the state carried from chunk to chunk), and after each chunk has been scored, one gradient
// step on that chunk's mean loss (truncated BPTT within the chunk, from the state it was scored from) adapts
// the weights, with a decay back toward the trained weights θ₀:
//   θ ← θ − η ∇L(chunk) + λ (θ₀ − θ)
// (Krause et al.'s plain SGD update, section 4; their RMS-normalised variant is not implemented). Every
// character is scored before any step has seen it, so the loss is still a loss of predictions, and the first
// chunk is scored by the trained weights: its loss is the static protocol's. The carried state is not
// recomputed after a step. When the text has been read the model's weights are put back as they were (pack()ed
// again): the caller's model is unchanged, and nothing here writes a file.
import { UsageError } from "../errors.ts";
import type { Arr } from "../kernels/types.ts";
import { backward, createState, createWorkspace, forward, type Model, pack, type Workspace } from "../model/model.ts";
import { NORMS } from "../model/norm.ts";
import { makeSlab } from "../model/params.ts";
import type { EvalProgress } from "./evaluate.ts";

export interface DynamicSettings {
  /** η: the learning rate of the step on each chunk */
  lr: number;
  /** λ: the fraction of the way back to the trained weights each step takes */
  decay: number;
  /** T: characters per chunk (one step each) */
  seq: number;
}

/**
 * Scores ids (vocabulary indices) with dynamic evaluation: the summed loss and the number of predictions
 * (ids.length − 1), as evaluateIds returns them. onChunk, when given, gets each chunk's loss sum and count as
 * it is scored (before the step on it).
 */
export function evaluateDynamic(
  model: Model, ids: ArrayLike<number>, s: DynamicSettings, onProgress?: EvalProgress, onChunk?: (lossSum: number, count: number) => void,
): { lossSum: number; count: number } {
  const norm = model.cfg.norm;
  if (norm !== undefined && NORMS[norm].minStreams > 1) {
    // one stream: no step statistics to take the gradient through, and the running estimates have no backward
    throw new UsageError(`--dynamic adapts the weights on one stream, and --norm ${norm} normalises over ${NORMS[norm].minStreams} or more streams to take a gradient: this model can be scored statically only`);
  }
  const n = ids.length - 1;
  if (n <= 0) return { lossSum: 0, count: 0 };
  const theta = model.params.data;
  const theta0: Arr = Float64Array.from(theta); // θ₀ [P], the trained weights
  const grads = makeSlab(model.spec, (k) => model.ops.alloc(k));
  const spaces = new Map<number, Workspace>(); // by chunk length: T, and the text's last, shorter chunk
  const space = (T: number) => {
    let w = spaces.get(T);
    if (!w) spaces.set(T, (w = createWorkspace(model, 1, T)));
    return w;
  };
  const state = createState(model, 1); // zero
  let lossSum = 0, count = 0;
  try {
    for (let at = 0; at < n; at += s.seq) {
      const w = space(Math.min(s.seq, n - at));
      for (let t = 0; t < w.T; t++) {
        w.idx[t] = ids[at + t];
        w.targets[t] = ids[at + t + 1];
      }
      const r = forward(model, w, state, { grad: true }); // scored by the weights as they are; dLogits of the mean loss
      lossSum += r.lossSum;
      count += r.count;
      onChunk?.(r.lossSum, r.count);
      onProgress?.(at + w.T, n);
      if (at + w.T >= n) break; // nothing left to predict: no step
      grads.data.fill(0);
      backward(model, w, grads);
      step(theta, grads.data, theta0, s.lr, s.decay);
      pack(model);
    }
  } finally {
    theta.set(theta0);
    pack(model);
  }
  return { lossSum, count };
}

/** θ ← θ − η g + λ (θ₀ − θ), element by element. */
function step(theta: Arr, g: Arr, theta0: Arr, lr: number, decay: number): void {
  for (let i = 0; i < theta.length; i++) theta[i] += decay * (theta0[i] - theta[i]) - lr * g[i];
}
