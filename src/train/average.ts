// Weight averaging (--ema D): an exponential moving average of the weights, updated after every optimizer
// step, is the model a run gives (Polyak averaging; the "EMA of the weights" of modern training recipes).
// Late in a run the weights wander around a minimum at the scale of the learning rate; their average sits
// nearer its centre and scores better on held-out text than any one of them (docs/quality.md).
//
// The average is what is validated, sampled and saved as the model (latest, best and step checkpoints); the
// raw weights keep training, and the training state saves them (RunState.params) so that resume is exact.
//
// Rule, stated once: after step n (1, 2, …), avg ← avg + (1 − d_n)·(w − avg) with d_n = min(D, (1 + n)/(10 + n))
// — the warm-up of TensorFlow's ExponentialMovingAverage(num_updates), so that the early average follows the
// weights instead of holding on to the initial ones. Arithmetic in double, stored in the weights' type.
import type { Arr } from "../kernels/types.ts";
import { type Model, pack } from "../model/model.ts";

/** The averaged weights of a run and the swap space to put them in the model's place. */
export interface WeightAverage {
  /** D, the decay per step (0 < D < 1) */
  decay: number;
  /** [P] the average, in the parameter slab's order */
  avg: Arr;
  /** [P] the raw weights while the average is in the model's place (inAverage) */
  raw: Arr;
}

/** The decay after step n (1-based): min(D, (1 + n)/(10 + n)). */
export const emaDecay = (decay: number, n: number): number => Math.min(decay, (1 + n) / (10 + n));

/** avg[P] ← avg + (1 − d)·(w − avg). */
export function emaUpdate(avg: Arr, w: Arr, d: number): void {
  const a = 1 - d;
  for (let i = 0; i < avg.length; i++) avg[i] += a * (w[i] - avg[i]);
}

/** An average that starts at the weights `w` (a new run: the initial weights; a resumed one: the saved average). */
export function createAverage(decay: number, w: Arr): WeightAverage {
  return { decay, avg: w.slice(0), raw: w.slice(0) };
}

/**
 * fn(raw) with the average in the place of the model's weights, which are put back afterwards (also on a
 * throw); what pack() derives from the weights follows them both ways. Without an average: fn(null).
 */
export function inAverage<T>(a: WeightAverage | null, model: Pick<Model, "params">, fn: (raw: Arr | null) => T, refresh: () => void = () => pack(model as Model)): T {
  if (!a) return fn(null);
  const params = model.params.data;
  a.raw.set(params);
  params.set(a.avg);
  refresh();
  try {
    return fn(a.raw);
  } finally {
    params.set(a.raw);
    refresh();
  }
}
