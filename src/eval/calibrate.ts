// Temperature calibration (Guo et al. 2017, "On calibration of modern neural networks"): one scalar β = 1/τ
// that multiplies the logits, fitted to minimise the mean cross-entropy on text the model did not train on.
// A model trained for many epochs with dropout is overconfident on unseen text (its deterministic logits are
// sharper than the noisy ones it was fitted with); β < 1 softens them. The fit changes no prediction's
// ranking, only how much probability the model puts on its guesses.
//
// The fit: L(β) = mean_i [ logsumexp(β·z_i) − β·z_i[y_i] ] over the logits z_i [V] of each scored character
// is convex in β, with
//   L'(β)  = mean_i ( E_p[z_i] − z_i[y_i] )      L''(β) = mean_i Var_p[z_i]      p = softmax(β·z_i),
// so Newton's method from β = 1 converges in a few passes over the stored logits (a step that does not lower
// L is halved). Applying it is exact and free: softmax(β·(W_dec·h + b_dec)) is the decoder with W_dec and
// b_dec scaled by β, so a calibrated model is an ordinary model file (PyTorch loads it as it loads any other).
import { type Model, pack } from "../model/model.ts";
import { createEvaluator } from "./evaluate.ts";
import { tensorNames } from "../model/params.ts";
import type { Ids } from "../corpus/batches.ts";

/** What a fit found, as stored in the model file's metadata. */
export interface Calibration {
  /** τ = 1/β: the logits are divided by it (> 1: the model was overconfident) */
  temperature: number;
  /** characters scored in the fit (the held-out text, at most maxFitChars(V)) */
  chars: number;
  /** mean cross-entropy (nats/char) on them before and after */
  lossBefore: number;
  lossAfter: number;
}

/** At most this many logits are kept for the fit (64 MiB of float32): the first 2²⁴/V characters of the text. */
const MAX_LOGITS = 1 << 24;
export const maxFitChars = (V: number): number => Math.floor(MAX_LOGITS / V);

/**
 * The logits [n × V] of every prediction of `ids` (n = min(ids.length − 1, maxFitChars(V))), the text run as
 * one stream from a zero state in chunks of `chunk` steps (the evaluation protocol, src/eval/evaluate.ts,
 * whose evaluator hands over each block's logits), and their targets [n].
 */
export function collectLogits(model: Model, ids: Ids, chunk = 256): { logits: Float32Array; targets: Int32Array } {
  const V = model.cfg.vocabSize;
  const n = Math.max(0, Math.min(ids.length - 1, maxFitChars(V)));
  const logits = new Float32Array(n * V); // [n × V]
  const targets = Int32Array.from(ids.subarray(1, n + 1)); // [n]
  createEvaluator(model, chunk)(ids.subarray(0, n + 1), undefined, undefined, (w, start) => logits.set(w.logits.subarray(0, w.T * V), start * V));
  return { logits, targets };
}

/** L(β), L'(β) and L''(β) over logits [n × V] (float64 sums). */
export function temperatureLoss(logits: Float32Array, targets: Int32Array, V: number, beta: number): { loss: number; grad: number; curv: number } {
  const n = targets.length;
  let loss = 0, grad = 0, curv = 0;
  for (let i = 0; i < n; i++) {
    const o = i * V;
    let mx = -Infinity;
    for (let v = 0; v < V; v++) if (beta * logits[o + v] > mx) mx = beta * logits[o + v];
    let sum = 0, ez = 0, ez2 = 0;
    for (let v = 0; v < V; v++) {
      const z = logits[o + v], e = Math.exp(beta * z - mx);
      sum += e;
      ez += e * z;
      ez2 += e * z * z;
    }
    ez /= sum;
    ez2 /= sum;
    const zy = logits[o + targets[i]];
    loss += Math.log(sum) + mx - beta * zy;
    grad += ez - zy;
    curv += Math.max(0, ez2 - ez * ez);
  }
  return n > 0 ? { loss: loss / n, grad: grad / n, curv: curv / n } : { loss: NaN, grad: 0, curv: 0 };
}

/** β minimising temperatureLoss (Newton from 1, halving a step that does not lower the loss), in [BETA_MIN, BETA_MAX]. */
export function fitBeta(logits: Float32Array, targets: Int32Array, V: number): { beta: number; lossBefore: number; lossAfter: number } {
  let beta = 1;
  let at = temperatureLoss(logits, targets, V, beta);
  const lossBefore = at.loss;
  for (let iter = 0; iter < 50 && at.curv > 0; iter++) {
    let step = -at.grad / at.curv;
    let next = clampBeta(beta + step), there = temperatureLoss(logits, targets, V, next);
    for (let halvings = 0; there.loss > at.loss && halvings < 30; halvings++) {
      step /= 2;
      next = clampBeta(beta + step);
      there = temperatureLoss(logits, targets, V, next);
    }
    if (!(there.loss <= at.loss)) break;
    const moved = Math.abs(next - beta);
    beta = next;
    at = there;
    if (moved < 1e-9) break;
  }
  return { beta, lossBefore, lossAfter: at.loss };
}

const BETA_MIN = 0.05, BETA_MAX = 20;
const clampBeta = (b: number) => Math.min(BETA_MAX, Math.max(BETA_MIN, b));

/** The decoder's weights and bias, [V × H] then [V], copied (to put back with restoreDecoder). */
export function copyDecoder(model: Model): Float32Array {
  const w = model.params.views[tensorNames.decoderWeight], b = model.params.views[tensorNames.decoderBias];
  const out = new Float32Array(w.length + b.length);
  out.set(w);
  out.set(b, w.length);
  return out;
}

/** Puts back what copyDecoder copied. */
export function restoreDecoder(model: Model, saved: ArrayLike<number>): void {
  const w = model.params.views[tensorNames.decoderWeight], b = model.params.views[tensorNames.decoderBias];
  if (saved.length !== w.length + b.length) throw new RangeError(`a saved decoder of ${saved.length} values does not fit ${w.length} + ${b.length}`);
  for (let i = 0; i < w.length; i++) w[i] = saved[i];
  for (let i = 0; i < b.length; i++) b[i] = saved[w.length + i];
  pack(model);
}

/** W_dec and b_dec ← β·W_dec, β·b_dec: the model's logits multiplied by β. */
export function scaleDecoder(model: Model, beta: number): void {
  for (const name of [tensorNames.decoderWeight, tensorNames.decoderBias]) {
    const x = model.params.views[name];
    for (let i = 0; i < x.length; i++) x[i] *= beta;
  }
  pack(model);
}

/** Fits the temperature of `model` on the text `ids` and applies it to its decoder; returns what it found. */
export function calibrate(model: Model, ids: Ids): Calibration {
  const V = model.cfg.vocabSize;
  const { logits, targets } = collectLogits(model, ids);
  const { beta, lossBefore, lossAfter } = fitBeta(logits, targets, V);
  scaleDecoder(model, beta);
  return { temperature: 1 / beta, chars: targets.length, lossBefore, lossAfter };
}
