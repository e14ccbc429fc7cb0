// Fine-tuning (`rnn train --init-from`): a new run whose model starts from a trained model's weights instead
// of fresh ones, on another text.
//
// The vocabulary is the union of the two: the trained model's characters first, in its order (so every one
// keeps its index and its rows), then the new text's characters the model never saw, in code-point order.
// Characters the new text lacks stay (their rows are kept and still trained as "never next"); new characters
// get the rows a fresh model of the union vocabulary draws for them, with the run's --init and --seed
// (deterministic). The rows that depend on the vocabulary are:
//   embedding.weight [V × E]     one row per character          (--embed > 0)
//   rnn.weight_ih_l0 [G·H × V]   one column per input character  (one-hot input)
//   decoder.weight [V × H], decoder.bias [V]   one row / entry per output character
// Every other tensor has the same shape in both models and is copied whole.
import { RnnError } from "../errors.ts";
import { pack, type Model } from "../model/model.ts";
import { type ParamName, tensorNames } from "../model/params.ts";

/** The union vocabulary of a trained model and a new text, and the characters it adds. */
export function unionVocab(modelVocab: string[], textVocab: string[]): { vocab: string[]; added: string[] } {
  const known = new Set(modelVocab);
  const added = textVocab.filter((c) => !known.has(c)).sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  return { vocab: [...modelVocab, ...added], added };
}

/**
 * The text's ids (indices into `from`) as indices into `to`, which holds every character of `from`: the same
 * array when the two vocabularies agree.
 */
export function remapIds(ids: Uint16Array | Uint32Array, from: string[], to: string[]): Uint16Array | Uint32Array {
  const index = new Map(to.map((c, i) => [c, i]));
  const map = from.map((c) => {
    const i = index.get(c);
    if (i === undefined) throw new RnnError(`internal: '${c}' is missing from the vocabulary`);
    return i;
  });
  if (map.every((v, i) => v === i)) return ids;
  const out = to.length <= 65536 ? new Uint16Array(ids.length) : new Uint32Array(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = map[ids[i]];
  return out;
}

/**
 * Overwrites the freshly initialised `dst` (vocabulary dstVocab) with src's weights (vocabulary srcVocab, whose
 * every character is in dstVocab): rows and columns by character, other tensors whole. Then repacks dst.
 */
export function transplant(dst: Model, dstVocab: string[], src: Model, srcVocab: string[]): void {
  const index = new Map(dstVocab.map((c, i) => [c, i]));
  const to = srcVocab.map((c) => index.get(c)!);
  if (to.some((j) => j === undefined)) throw new RnnError("--init-from: the run's vocabulary lacks characters of the model's");
  const Vs = srcVocab.length, Vd = dstVocab.length;
  for (const t of dst.spec.tensors) {
    const name: ParamName = t.name;
    const d = dst.params.views[name], s = src.params.views[name];
    if (!s) throw new RnnError(`--init-from: the model has no tensor ${name}`);
    const rows = name === tensorNames.embedding || name === tensorNames.decoderWeight;
    const cols = dst.cfg.embed === 0 && name === tensorNames.layer(0).wih;
    if (rows || name === tensorNames.decoderBias) {
      const w = name === tensorNames.decoderBias ? 1 : t.shape[1]; // [V × w]
      if (s.length !== Vs * w) throw new RnnError(`--init-from: tensor ${name} does not fit the model's vocabulary`);
      for (let i = 0; i < Vs; i++) d.set(s.subarray(i * w, (i + 1) * w), to[i] * w);
    } else if (cols) {
      const R = t.shape[0]; // [G·H × V]
      if (s.length !== R * Vs) throw new RnnError(`--init-from: tensor ${name} does not fit the model's vocabulary`);
      for (let r = 0; r < R; r++) for (let i = 0; i < Vs; i++) d[r * Vd + to[i]] = s[r * Vs + i];
    } else {
      if (s.length !== d.length) throw new RnnError(`--init-from: tensor ${name} has ${s.length} values, the run's model ${d.length}`);
      d.set(s);
    }
  }
  dst.stats.data.set(src.stats.data); // --norm batch: the running statistics too (the same architecture)
  pack(dst);
}
