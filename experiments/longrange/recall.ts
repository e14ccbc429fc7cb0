// The recall corpus: the copy-memory task as text. Each line is a key, a run of blanks, a marker, and the key
// again:
//
//   C.............................................=C
//
//   key      one of KEYS (8 capital letters), drawn uniformly: nothing before it predicts it
//   blanks   D dots, D drawn uniformly from [minGap, maxGap] (default 30–70): nothing in them depends on the key
//   "="      the marker: where the blanks end is not predictable either (D is random)
//   key      the same key: the RECALL character, D + 1 characters after the key it repeats
//
// A model that remembers the key across the blanks predicts the recall character with certainty; one that does
// not can do no better than ln 8 = 2.079 nats (the key's prior). Every other character costs the same for both
// (the blanks' end is a coin toss either way). Offsets are character offsets (the text is ASCII).
import { makeRng, type Rng } from "../../src/rng.ts";

export const KEYS = "ABCDEFGH";
export const RECALL_DEFAULTS = { chars: 1_000_000, minGap: 30, maxGap: 70, seed: 7 };
export const MARKER = "=";
export const BLANK = ".";

/** The corpus: about `chars` characters of whole lines (deterministic by seed). */
export function generateRecall(opts: Partial<typeof RECALL_DEFAULTS> = {}): string {
  const o = { ...RECALL_DEFAULTS, ...opts };
  const rng: Rng = makeRng(o.seed);
  const lines: string[] = [];
  let n = 0;
  while (n < o.chars) {
    const key = KEYS[rng.int(KEYS.length)];
    const gap = o.minGap + rng.int(o.maxGap - o.minGap + 1);
    const line = `${key}${BLANK.repeat(gap)}${MARKER}${key}\n`;
    lines.push(line);
    n += line.length;
  }
  return lines.join("");
}

/** The offsets of the recall characters (the key after each marker) and how far back each one's key is. */
export function recallPositions(text: string): { at: number; distance: number }[] {
  const out: { at: number; distance: number }[] = [];
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\n") lineStart = i + 1;
    else if (text[i] === MARKER && i + 1 < text.length) out.push({ at: i + 1, distance: i + 1 - lineStart });
  }
  return out;
}
