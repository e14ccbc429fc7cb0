// Evaluation protocol, shared by validation during training and `rnn eval`: the text runs as ONE stream
// (batch 1) from a zero state, in chunks of up to T steps with the state carried across chunks, and the
// loss is the mean cross-entropy over every predicted character (each character's successor).
import { createState, createWorkspace, forward, type Model, resetState, type Workspace } from "../model/model.ts";

export interface EvalResult {
  /** mean cross-entropy, nats per character */
  loss: number;
  /** bits per character: loss / ln 2 */
  bpc: number;
  perplexity: number;
  /** characters scored */
  chars: number;
}

export function summarize(lossSum: number, count: number): EvalResult {
  const loss = count > 0 ? lossSum / count : NaN;
  return { loss, bpc: loss / Math.LN2, perplexity: Math.exp(loss), chars: count };
}

/** Called after each block of the stream: predictions scored so far (done) of all (total). */
export type EvalProgress = (done: number, total: number) => void;
/** Called after each block's forward pass: its workspace (the block's T steps: logits [T × V] among them) and
 *  the position in the text of its first step. */
export type EvalBlock = (w: Workspace, start: number) => void;

/**
 * An evaluator for one model: ids (the text as vocabulary indices) → the summed loss and the number of
 * predictions (ids.length − 1). The text streams through the model in blocks of `chunk` steps: memory is one
 * workspace of chunk × (the model's widths), whatever the text's length. Its workspaces are made once per chunk
 * length and reused, so validating every few hundred steps allocates nothing after the first time (the WASM
 * backend never frees). onProgress, when given, is called after every block, and onBlock with the block's
 * workspace (what src/eval/calibrate.ts reads the logits from); nothing here prints.
 *
 * One stream on one core, by design: the state carried across blocks makes every prediction depend on all
 * the text before it, which is the protocol (and what PyTorch reproduces); cutting the text into segments
 * for several cores would change the numbers unless each segment were warmed up on text before it.
 */
export function createEvaluator(
  model: Model,
  chunk = 256,
): (ids: ArrayLike<number>, scored?: Uint8Array, onProgress?: EvalProgress, onBlock?: EvalBlock) => { lossSum: number; count: number } {
  const spaces = new Map<number, Workspace>();
  const space = (T: number) => {
    let w = spaces.get(T);
    if (!w) spaces.set(T, (w = createWorkspace(model, 1, T, { grad: false })));
    return w;
  };
  const state = createState(model, 1);
  /** scored[i] = 0 leaves the prediction of ids[i] out of the loss (default: every prediction counts) */
  return (ids, scored, onProgress, onBlock) => {
    const n = ids.length - 1;
    if (n <= 0) return { lossSum: 0, count: 0 };
    resetState(state);
    let lossSum = 0, count = 0;
    for (let s = 0; s < n; s += chunk) {
      const w = space(Math.min(chunk, n - s));
      for (let t = 0; t < w.T; t++) {
        w.idx[t] = ids[s + t];
        w.targets[t] = scored && !scored[s + t + 1] ? -1 : ids[s + t + 1];
      }
      const r = forward(model, w, state, { grad: false });
      lossSum += r.lossSum;
      count += r.count;
      onBlock?.(w, s);
      onProgress?.(s + w.T, n);
    }
    return { lossSum, count };
  };
}

/** One-off evaluation (rnn eval), streaming as createEvaluator does. */
export function evaluateIds(model: Model, ids: ArrayLike<number>, chunk = 256, onProgress?: EvalProgress): { lossSum: number; count: number } {
  return createEvaluator(model, chunk)(ids, undefined, onProgress);
}
