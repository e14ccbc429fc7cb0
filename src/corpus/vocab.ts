// The vocabulary side of a text: characters (Unicode code points) ↔ ids. Pure functions, nothing from Node,
// so the browser bundle (src/lib/browser.ts) can use them; reading files is corpus.ts's.
import { RnnError } from "../errors.ts";

/** Map from vocabulary entry to its id. */
export function vocabIndex(vocab: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < vocab.length; i++) m.set(vocab[i], i);
  return m;
}

/**
 * Encodes a JS string by code points. Characters not in vocab get id -1 (not scored by eval) and are counted
 * in `unknown` (character → occurrences). A lone UTF-16 surrogate is one (unknown) character.
 */
export function encodeText(text: string, vocab: string[]): { ids: Int32Array; unknown: Map<string, number> } {
  const index = vocabIndex(vocab);
  const out: number[] = [];
  const unknown = new Map<string, number>();
  for (const ch of text) {
    const id = index.get(ch);
    if (id === undefined) {
      out.push(-1);
      unknown.set(ch, (unknown.get(ch) ?? 0) + 1);
    } else out.push(id);
  }
  return { ids: Int32Array.from(out), unknown };
}

/** ids → text. Id -1 (unknown, see encodeText) decodes to U+FFFD; any other id outside the vocabulary throws. */
export function decodeIds(ids: ArrayLike<number>, vocab: string[]): string {
  const parts: string[] = [];
  let s = "";
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id === -1) s += "\uFFFD";
    else if (Number.isInteger(id) && id >= 0 && id < vocab.length) s += vocab[id];
    else throw new RnnError(`character id ${id} is outside the vocabulary of ${vocab.length} characters: the model and vocabulary do not match`);
    if (s.length >= 1 << 16) {
      parts.push(s);
      s = "";
    }
  }
  parts.push(s);
  return parts.join("");
}
