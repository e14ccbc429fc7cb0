// Generating text from a trained model: n samples at once as one batch (B = n, T = 1), each step a
// forward pass over one character per sample, then temperature / top-k / argmax selection.
import type { SampleConfig } from "../config.ts";
import { UsageError } from "../errors.ts";
import { createState, createWorkspace, forward, type Model } from "../model/model.ts";
import { makeRng } from "../rng.ts";

/** What to generate: length, temperature, prime, seed, argmax, top-k, count (defaults: SAMPLE_DEFAULTS). */
export type SampleOptions = SampleConfig;

/** Returns the vocabulary indices of text's code points; throws one line naming any characters outside it. */
export function primeIds(text: string, vocab: string[]): number[] {
  const index = new Map(vocab.map((c, i) => [c, i]));
  const ids: number[] = [];
  const missing = new Set<string>();
  for (const ch of text) {
    const i = index.get(ch);
    if (i === undefined) missing.add(ch);
    else ids.push(i);
  }
  if (missing.size) {
    const list = [...missing].map((c) => JSON.stringify(c)).join(", ");
    throw new UsageError(`--prime has ${missing.size} character${missing.size > 1 ? "s" : ""} the model never saw: ${list}; use characters of the training text`);
  }
  return ids;
}

/**
 * Generates opts.count samples. onChar(k, ch) is called for every character of sample k as soon as it is
 * known (the prime first), so a caller can stream sample 0 to stdout.
 */
export function sample(model: Model, vocab: string[], opts: SampleOptions, onChar: (k: number, ch: string) => void): string[] {
  const Kc = opts.count, V = vocab.length;
  const rng = makeRng(opts.seed);
  const ws = createWorkspace(model, Kc, 1, { grad: false });
  const state = createState(model, Kc);
  const out: string[] = Array.from({ length: Kc }, () => "");
  const emit = (k: number, ch: string) => {
    out[k] += ch;
    onChar(k, ch);
  };
  let seed = primeIds(opts.prime, vocab);
  for (let k = 0; k < Kc; k++) for (const i of seed) emit(k, vocab[i]);
  if (seed.length === 0) {
    // no prime: start after a newline when the vocabulary has one (as at the start of a line of text),
    // else from a uniformly drawn first character, which is part of the sample
    const nl = vocab.indexOf("\n");
    if (nl >= 0) seed = [nl];
    else {
      seed = [rng.int(V)];
      for (let k = 0; k < Kc; k++) emit(k, vocab[seed[0]]);
    }
  }
  ws.targets.fill(-1);
  // feed all but the last prime character
  for (let s = 0; s < seed.length - 1; s++) {
    ws.idx.fill(seed[s]);
    forward(model, ws, state, { grad: false });
  }
  ws.idx.fill(seed[seed.length - 1]);
  const probs = new Float64Array(V);
  const order = new Int32Array(V);
  for (let n = 0; n < opts.length; n++) {
    forward(model, ws, state, { grad: false });
    for (let k = 0; k < Kc; k++) {
      const next = pick(ws.logits, k * V, V, opts, rng.next(), probs, order);
      ws.idx[k] = next;
      emit(k, vocab[next]);
    }
  }
  return out;
}

/** Chooses the next character from one row of logits. u is a uniform draw in [0, 1). */
function pick(logits: ArrayLike<number>, o: number, V: number, opts: SampleOptions, u: number, probs: Float64Array, order: Int32Array): number {
  let best = 0;
  for (let v = 1; v < V; v++) if (logits[o + v] > logits[o + best]) best = v;
  if (opts.argmax) return best;
  const mx = logits[o + best];
  let sum = 0;
  for (let v = 0; v < V; v++) sum += probs[v] = Math.exp((logits[o + v] - mx) / opts.temperature);
  if (opts.topK > 0 && opts.topK < V) {
    for (let v = 0; v < V; v++) order[v] = v;
    const sorted = Array.from(order).sort((a, b) => probs[b] - probs[a] || a - b);
    sum = 0;
    for (let r = 0; r < V; r++) {
      if (r >= opts.topK) probs[sorted[r]] = 0;
      else sum += probs[sorted[r]];
    }
  }
  let acc = 0;
  const target = u * sum;
  for (let v = 0; v < V; v++) {
    acc += probs[v];
    if (target < acc && probs[v] > 0) return v;
  }
  return best;
}
