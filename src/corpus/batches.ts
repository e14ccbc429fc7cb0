// Truncated-BPTT batching. The training text is cut into B contiguous streams of equal length; chunk c of an
// epoch is the next T characters of every stream, so the hidden state carried from chunk c to chunk c+1 of a
// stream continues exactly where it stopped.
//
//   streamLen      = ⌊(len − 1) / B⌋        stream b = train[b·streamLen, (b+1)·streamLen]
//   chunksPerEpoch = ⌊streamLen / T⌋
//   input  (t, b)  = train[b·streamLen + c·T + t]
//   target (t, b)  = train[b·streamLen + c·T + t + 1]
//
// Arrays are time-major: row t·nb + (b − b0) for the streams b0 .. b0+nb−1 a worker owns.
import { UsageError } from "../errors.ts";

export type Ids = Uint16Array | Uint32Array;

/** Validation is the TAIL of the corpus: ⌊len · valFrac⌋ characters (valFrac 0 → empty). Both are views. */
export function splitTrainVal<A extends Ids>(ids: A, valFrac: number): { train: A; val: A } {
  if (!(valFrac >= 0 && valFrac < 1)) throw new UsageError(`--val-frac must be at least 0 and less than 1, got ${valFrac}`);
  const valLen = Math.floor(ids.length * valFrac);
  const cut = ids.length - valLen;
  return { train: ids.subarray(0, cut) as A, val: ids.subarray(cut) as A };
}

export interface Batcher {
  /** B: parallel streams */
  streams: number;
  /** T: steps per chunk */
  steps: number;
  streamLen: number;
  chunksPerEpoch: number;
  /**
   * Fills chunk `chunk` (0 ≤ chunk < chunksPerEpoch) for streams b0 .. b0+nb−1 (default: all B).
   * idx, targets: [T·nb] time-major (row t·nb + (b − b0)); longer arrays are filled in their first T·nb.
   */
  fill(chunk: number, idx: Int32Array, targets: Int32Array, b0?: number, nb?: number): void;
}

export function makeBatcher(train: Ids, B: number, T: number): Batcher {
  if (!(Number.isInteger(B) && B >= 1 && Number.isInteger(T) && T >= 1)) {
    throw new UsageError(`--batch and --seq must be whole numbers of at least 1, got ${B} and ${T}`);
  }
  checkFits(train.length, B, T);
  const streamLen = Math.floor((train.length - 1) / B);
  const chunksPerEpoch = Math.floor(streamLen / T);
  return {
    streams: B,
    steps: T,
    streamLen,
    chunksPerEpoch,
    fill(chunk, idx, targets, b0 = 0, nb = B - b0) {
      if (!(Number.isInteger(chunk) && chunk >= 0 && chunk < chunksPerEpoch)) {
        throw new RangeError(`chunk ${chunk} is outside 0..${chunksPerEpoch - 1}`);
      }
      if (!(Number.isInteger(b0) && Number.isInteger(nb) && b0 >= 0 && nb >= 1 && b0 + nb <= B)) {
        throw new RangeError(`streams ${b0}..${b0 + nb - 1} are outside 0..${B - 1}`);
      }
      if (idx.length < T * nb || targets.length < T * nb) {
        throw new RangeError(`idx/targets need ${T * nb} entries (T·nb), got ${idx.length}/${targets.length}`);
      }
      for (let j = 0; j < nb; j++) {
        const start = (b0 + j) * streamLen + chunk * T; // train offset of this stream's chunk
        for (let t = 0; t < T; t++) {
          idx[t * nb + j] = train[start + t];
          targets[t * nb + j] = train[start + t + 1];
        }
      }
    },
  };
}

/**
 * Throws a UsageError when a training split of trainLen characters cannot hold one chunk of B streams × T
 * steps (it needs B·T + 1 characters), suggesting a --batch and a --seq that fit.
 */
export function checkFits(trainLen: number, B: number, T: number): void {
  const need = B * T + 1;
  if (trainLen >= need) return;
  const head = `training text has ${trainLen} character${trainLen === 1 ? "" : "s"}; --batch ${B} --seq ${T} needs at least ${need}.`;
  const avail = trainLen - 1; // B·T must not exceed this
  if (avail < 1) {
    throw new UsageError(`${head} Use a longer corpus (or a smaller --val-frac, which takes characters from the training text).`);
  }
  const tries: string[] = [];
  const add = (b: number, t: number) => {
    const s = `--batch ${b} --seq ${t}`;
    if (b >= 1 && t >= 1 && b * t <= avail && !tries.includes(s)) tries.push(s);
  };
  add(Math.floor(avail / T), T); // keep --seq, fewer streams
  add(B, Math.floor(avail / B)); // keep --batch, shorter chunks
  if (tries.length === 0) {
    // Neither alone fits: shrink both to a square that does.
    const s = Math.floor(Math.sqrt(avail));
    add(s, s);
  }
  throw new UsageError(`${head} Try ${tries.join(" or ")}, or use a longer corpus.`);
}
