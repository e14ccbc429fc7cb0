// "ABCABCAB — what comes next, and how likely is it?": the next-character distribution after a text.
//
// The text is fed exactly as `rnn sample` feeds its prime (batch 1, one character per forward pass, from a
// zero state; an empty text means "after a newline", as a sample without a prime starts), so the numbers are
// those sampling draws from. Temperature applies as in sampling: p ∝ exp(logit / temperature).
import { UsageError } from "../errors.ts";
import { encodeText } from "../corpus/vocab.ts";
import { createState, createWorkspace, type Model } from "../model/model.ts";
import { emptyContext, feedChars } from "../sample/sample.ts";

export interface PredictOptions {
  /** default 1 */
  temperature?: number;
  /** how many of the most likely characters to list; 0 = all (default 10) */
  topK?: number;
}

export interface Candidate {
  char: string;
  /** vocabulary index */
  id: number;
  /** probability at the given temperature */
  p: number;
}

export interface Prediction {
  /** the characters fed (the text without its unknown characters); "" = the empty context (see `context`) */
  fed: string;
  /** what the prediction is conditioned on: the text, a newline (empty text), or nothing (empty text and no
   *  newline in the vocabulary: the uniform first-character draw of sampling) */
  context: "text" | "newline" | "none";
  temperature: number;
  /** the top k, most likely first (ties: vocabulary order) */
  top: Candidate[];
  /** the characters not listed: how many, their total probability, and the largest single one */
  rest: { count: number; p: number; max: number };
  /** Σ p over the whole vocabulary (1 up to rounding: a check) */
  total: number;
  /** entropy of the distribution, nats */
  entropy: number;
  vocabSize: number;
  /** characters of the text outside the vocabulary (distinct, in order of appearance); they were not fed */
  unknown: string[];
  /** how many characters of the text were not fed */
  skipped: number;
}

/** The full next-character distribution after text (length V, sums to 1) and what was fed. */
export function nextDistribution(
  model: Model, vocab: string[], text: string, temperature = 1,
): { probs: Float64Array; fed: string; context: Prediction["context"]; unknown: string[]; skipped: number } {
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new UsageError(`--temperature must be a positive number, got ${temperature}`);
  const V = vocab.length;
  const { ids: raw, unknown } = encodeText(text, vocab);
  const ids = raw.filter((i) => i >= 0);
  const skipped = raw.length - ids.length;
  const probs = new Float64Array(V);
  const start = ids.length ? null : emptyContext(vocab);
  const context: Prediction["context"] = ids.length ? "text" : start ? "newline" : "none";
  if (context === "none") probs.fill(1 / V);
  else {
    const ws = createWorkspace(model, 1, 1, { grad: false });
    const state = createState(model, 1);
    feedChars(model, ws, state, ids.length ? ids : start!);
    // as sampling: exp((logit − max) / temperature), normalised
    let mx = -Infinity;
    for (let v = 0; v < V; v++) if (ws.logits[v] > mx) mx = ws.logits[v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += probs[v] = Math.exp((ws.logits[v] - mx) / temperature);
    for (let v = 0; v < V; v++) probs[v] /= sum;
  }
  return { probs, fed: Array.from(ids, (i) => vocab[i]).join(""), context, unknown: [...unknown.keys()], skipped };
}

/** The next-character distribution after text, summarised: the top k, the rest, the total. */
export function predictNext(model: Model, vocab: string[], text: string, opts: PredictOptions = {}): Prediction {
  const temperature = opts.temperature ?? 1;
  const k = opts.topK ?? 10;
  if (!Number.isInteger(k) || k < 0) throw new UsageError(`--top-k must be a whole number ≥ 0, got ${k}`);
  const { probs, fed, context, unknown, skipped } = nextDistribution(model, vocab, text, temperature);
  const V = vocab.length;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
  const shown = k === 0 ? V : Math.min(k, V);
  const top = order.slice(0, shown).map((id) => ({ char: vocab[id], id, p: probs[id] }));
  let restP = 0, restMax = 0, total = 0, entropy = 0;
  for (let r = 0; r < V; r++) {
    const p = probs[order[r]];
    total += p;
    if (p > 0) entropy -= p * Math.log(p);
    if (r >= shown) {
      restP += p;
      restMax = Math.max(restMax, p);
    }
  }
  return { fed, context, temperature, top, rest: { count: V - shown, p: restP, max: restMax }, total, entropy, vocabSize: V, unknown, skipped };
}
