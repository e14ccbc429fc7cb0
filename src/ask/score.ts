// Per-character surprisal: how surprised the model is by each character of a text, −ln p(char | before).
//
// The protocol is `rnn eval`'s (src/eval/evaluate.ts), so the mean surprisal is eval's loss on the same
// text: the text runs as ONE stream (batch 1) from a zero state, in chunks of up to 256 steps with the state
// carried across, each known character predicting the next known one. Characters outside the vocabulary have
// no input row: they are left out of the stream (as eval leaves them out) and marked unknown, with no
// surprisal; the character after one is predicted from the last known character before it. The first known
// character has nothing before it and no surprisal either. Each character's surprisal is the loss kernel's
// value for its row, so the per-character numbers sum to eval's total up to the order of additions.
import { encodeText } from "../corpus/vocab.ts";
import { summarize } from "../eval/evaluate.ts";
import { createState, createWorkspace, forward, type Model, type Workspace } from "../model/model.ts";

export interface CharScore {
  /** position in the text, in code points */
  index: number;
  char: string;
  /** in the model's vocabulary */
  known: boolean;
  /** −ln p(char | the known characters before it), nats; null for an unknown character and the first known one */
  surprisal: number | null;
}

export interface ScoreTotals {
  /** Σ surprisal, nats */
  nats: number;
  /** mean surprisal, nats per character: eval's loss */
  loss: number;
  /** bits per character: loss / ln 2 */
  bpc: number;
  perplexity: number;
  /** characters with a surprisal (predictions made) */
  count: number;
  /** characters outside the vocabulary (not scored, not fed) */
  unknown: number;
  /** characters in the text */
  chars: number;
}

export interface ScoreResult {
  chars: CharScore[];
  totals: ScoreTotals;
  /** the distinct unknown characters, in order of appearance */
  unknownChars: string[];
}

export function scoreText(model: Model, vocab: string[], text: string, chunk = 256): ScoreResult {
  const { ids: raw, unknown } = encodeText(text, vocab);
  const chars: CharScore[] = [];
  const pos: number[] = []; // record index of each known character, in stream order
  const ids: number[] = [];
  let i = 0;
  for (const ch of text) {
    const id = raw[i];
    chars.push({ index: i, char: ch, known: id >= 0, surprisal: null });
    if (id >= 0) {
      pos.push(i);
      ids.push(id);
    }
    i++;
  }
  // the stream, exactly as createEvaluator runs it
  const V = model.cfg.vocabSize, ops = model.ops;
  const n = ids.length - 1;
  let nats = 0, count = 0;
  if (n > 0) {
    const spaces = new Map<number, Workspace>();
    const state = createState(model, 1);
    for (let s = 0; s < n; s += chunk) {
      const T = Math.min(chunk, n - s);
      let w = spaces.get(T);
      if (!w) spaces.set(T, (w = createWorkspace(model, 1, T, { grad: false })));
      for (let t = 0; t < T; t++) {
        w.idx[t] = ids[s + t];
        w.targets[t] = ids[s + t + 1];
      }
      forward(model, w, state, { grad: false });
      for (let t = 0; t < T; t++) {
        const loss = ops.softmaxXent(null, w.logits.subarray(t * V, (t + 1) * V), w.targets.subarray(t, t + 1), 1, V, 1);
        chars[pos[s + t + 1]].surprisal = loss;
        nats += loss;
        count++;
      }
    }
  }
  const sum = summarize(nats, count);
  return {
    chars,
    totals: { nats, loss: sum.loss, bpc: sum.bpc, perplexity: sum.perplexity, count, unknown: chars.length - ids.length, chars: chars.length },
    unknownChars: [...unknown.keys()],
  };
}
