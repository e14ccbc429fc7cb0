// Generating text from a trained model: n samples at once as one batch (B = n, T = 1), each step a
// forward pass over one character per sample, then temperature / top-k / top-p / argmax selection.
//
// Each sample also gets two log-probabilities (natural log) of the characters it generated (the prime is
// given, not generated, and not counted):
//   logprob       Σ log q(c), q = the distribution the character was actually drawn from: softmax(logits /
//                 temperature), cut to the top k, then to the top-p nucleus, renormalised. With argmax, q is
//                 softmax(logits / temperature) uncut (argmax takes its mode; a point mass would give 0).
//   modelLogprob  Σ log p(c), p = the model's own distribution softmax(logits), temperature 1, uncut: the
//                 model's log-likelihood of the continuation, comparable across sampling settings.
// When there is neither a prime nor a newline in the vocabulary the first character is drawn uniformly and
// counts log(1/V) in both.
import type { SampleConfig } from "../config.ts";
import { UsageError } from "../errors.ts";
import { createState, createWorkspace, forward, type Model, resetState, type State, type Workspace } from "../model/model.ts";
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
 * What the model is fed before the first prediction when the context is empty: a newline when the vocabulary
 * has one (as at the start of a line of text), else nothing (null: the first character is drawn uniformly).
 */
export function emptyContext(vocab: string[]): number[] | null {
  const nl = vocab.indexOf("\n");
  return nl >= 0 ? [nl] : null;
}

/**
 * Feeds ids one character per forward pass (T = 1) into every stream of ws, the state carried; nothing is
 * scored. After the last one, ws.logits holds each stream's next-character logits. Sampling feeds its prime
 * this way and `rnn predict` its text, so both see the same numbers.
 */
export function feedChars(model: Model, ws: Workspace, state: State, ids: ArrayLike<number>): void {
  ws.targets.fill(-1);
  for (let s = 0; s < ids.length; s++) {
    ws.idx.fill(ids[s]);
    forward(model, ws, state, { grad: false });
  }
}

/** One generated sample: the text (prime included) and the log-probabilities of its generated characters. */
export interface SampleResult {
  text: string;
  /** Σ log q(c) under the distribution each character was drawn from (see the header comment), nats */
  logprob: number;
  /** Σ log p(c) under the model's own distribution (temperature 1, uncut), nats */
  modelLogprob: number;
  /** characters generated (counted in the log-probabilities): length, +1 for a uniformly drawn first one */
  generated: number;
}

/**
 * Generates opts.count samples. onChar(k, ch) is called for every character of sample k as soon as it is
 * known (the prime first), so a caller can stream sample 0 to stdout.
 */
export function sample(model: Model, vocab: string[], opts: SampleOptions, onChar: (k: number, ch: string) => void): string[] {
  return sampleScored(model, vocab, opts, onChar).map((r) => r.text);
}

/** Buffers for sampling opts.count streams, made once and reused (the WebAssembly backend never frees). */
export interface SampleSpace {
  ws: Workspace;
  state: State;
}

export function createSampleSpace(model: Model, count: number): SampleSpace {
  return { ws: createWorkspace(model, count, 1, { grad: false }), state: createState(model, count) };
}

/** sample(), with each sample's log-probabilities. `space`: buffers to reuse (their state is reset first). */
export function sampleScored(model: Model, vocab: string[], opts: SampleOptions, onChar: (k: number, ch: string) => void, space?: SampleSpace): SampleResult[] {
  const steps = sampleSteps(model, vocab, opts, space);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    onChar(r.value[0], r.value[1]);
  }
}

/**
 * sampleScored() one character at a time: yields [k, ch] for every character of sample k as soon as it is
 * known (the prime first), and returns the results. A caller that must not block (a page streaming into its
 * text) takes a few characters, yields to its event loop, and goes on; sampleScored drives it in one go.
 */
export function* sampleSteps(model: Model, vocab: string[], opts: SampleOptions, space?: SampleSpace): Generator<[number, string], SampleResult[], void> {
  const Kc = opts.count, V = vocab.length;
  const topP = opts.topP ?? 0;
  if (!(topP >= 0 && topP <= 1)) throw new UsageError(`--top-p must be between 0 and 1, got ${topP}`);
  const rng = makeRng(opts.seed);
  const { ws, state } = space ?? createSampleSpace(model, Kc);
  if (space) resetState(state);
  const out: SampleResult[] = Array.from({ length: Kc }, () => ({ text: "", logprob: 0, modelLogprob: 0, generated: 0 }));
  let seed = primeIds(opts.prime, vocab);
  for (let k = 0; k < Kc; k++) {
    for (const i of seed) {
      out[k].text += vocab[i];
      yield [k, vocab[i]];
    }
  }
  if (seed.length === 0) {
    // no prime: start after a newline when the vocabulary has one, else from a uniformly drawn first
    // character, which is part of the sample
    const start = emptyContext(vocab);
    if (start) seed = start;
    else {
      seed = [rng.int(V)];
      for (let k = 0; k < Kc; k++) {
        out[k].text += vocab[seed[0]];
        out[k].logprob = out[k].modelLogprob = -Math.log(V);
        out[k].generated = 1;
        yield [k, vocab[seed[0]]];
      }
    }
  }
  // feed all but the last prime character
  feedChars(model, ws, state, seed.slice(0, -1));
  ws.idx.fill(seed[seed.length - 1]);
  const probs = new Float64Array(V);
  const order = new Int32Array(V);
  const q = { sum: 0 };
  for (let n = 0; n < opts.length; n++) {
    forward(model, ws, state, { grad: false });
    for (let k = 0; k < Kc; k++) {
      const next = pick(ws.logits, k * V, V, opts, topP, rng.next(), probs, order, q);
      ws.idx[k] = next;
      const r = out[k];
      r.logprob += Math.log(probs[next] / q.sum);
      r.modelLogprob += logSoftmaxAt(ws.logits, k * V, V, next);
      r.generated++;
      r.text += vocab[next];
      yield [k, vocab[next]];
    }
  }
  return out;
}

/** log softmax(logits row)[v], temperature 1 */
function logSoftmaxAt(logits: ArrayLike<number>, o: number, V: number, v: number): number {
  let mx = -Infinity;
  for (let i = 0; i < V; i++) if (logits[o + i] > mx) mx = logits[o + i];
  let sum = 0;
  for (let i = 0; i < V; i++) sum += Math.exp(logits[o + i] - mx);
  return logits[o + v] - mx - Math.log(sum);
}

/**
 * Chooses the next character from one row of logits. u is a uniform draw in [0, 1). Leaves in probs / q.sum
 * the (unnormalised) distribution q the choice was made from: probs[v] / q.sum = q(v).
 */
function pick(
  logits: ArrayLike<number>, o: number, V: number, opts: SampleOptions, topP: number, u: number,
  probs: Float64Array, order: Int32Array, q: { sum: number },
): number {
  let best = 0;
  for (let v = 1; v < V; v++) if (logits[o + v] > logits[o + best]) best = v;
  const mx = logits[o + best];
  let sum = 0;
  for (let v = 0; v < V; v++) sum += probs[v] = Math.exp((logits[o + v] - mx) / opts.temperature);
  q.sum = sum;
  if (opts.argmax) return best;
  let sorted: number[] | null = null;
  const byMass = () => {
    for (let v = 0; v < V; v++) order[v] = v;
    return Array.from(order).sort((a, b) => probs[b] - probs[a] || a - b); // most likely first, ties by index
  };
  if (opts.topK > 0 && opts.topK < V) {
    sorted = byMass();
    sum = 0;
    for (let r = 0; r < V; r++) {
      if (r >= opts.topK) probs[sorted[r]] = 0;
      else sum += probs[sorted[r]];
    }
  }
  if (topP > 0 && topP < 1) {
    // the nucleus: the most likely characters, in order, until their mass reaches topP of what is left
    sorted ??= byMass();
    const need = topP * sum;
    let kept = 0;
    for (let r = 0; r < V; r++) {
      const v = sorted[r];
      if (kept >= need) probs[v] = 0;
      else kept += probs[v];
    }
    sum = kept;
  }
  q.sum = sum;
  let acc = 0;
  const target = u * sum;
  for (let v = 0; v < V; v++) {
    acc += probs[v];
    if (target < acc && probs[v] > 0) return v;
  }
  return best;
}
