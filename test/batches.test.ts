import { describe, expect, it } from "vitest";
import { checkFits, makeBatcher, splitTrainVal } from "../src/corpus/batches.ts";
import { UsageError } from "../src/errors.ts";

const ramp = (n: number) => Uint16Array.from({ length: n }, (_, i) => i); // id = position, so slices are visible

describe("splitTrainVal", () => {
  it("takes the tail as validation, as views of the same buffer", () => {
    const ids = ramp(1003);
    const { train, val } = splitTrainVal(ids, 0.1);
    expect(val.length).toBe(Math.floor(1003 * 0.1));
    expect(train.length + val.length).toBe(1003);
    expect(train[0]).toBe(0);
    expect(val[0]).toBe(train.length);
    expect(val[val.length - 1]).toBe(1002);
    expect(train.buffer).toBe(ids.buffer);
    expect(val).toBeInstanceOf(Uint16Array);
  });
  it("valFrac 0 leaves validation empty; valFrac outside [0, 1) is a usage error", () => {
    const ids = Uint32Array.from([5, 6, 7]);
    const { train, val } = splitTrainVal(ids, 0);
    expect(Array.from(train)).toEqual([5, 6, 7]);
    expect(val.length).toBe(0);
    expect(train).toBeInstanceOf(Uint32Array);
    expect(() => splitTrainVal(ids, 1)).toThrow(UsageError);
    expect(() => splitTrainVal(ids, -0.1)).toThrow(UsageError);
  });
});

describe("makeBatcher", () => {
  it("fills time-major chunks from B contiguous streams exactly as specified", () => {
    const len = 1000, B = 7, T = 9;
    const train = ramp(len);
    const bt = makeBatcher(train, B, T);
    const streamLen = Math.floor((len - 1) / B);
    expect(bt.streamLen).toBe(streamLen);
    expect(bt.chunksPerEpoch).toBe(Math.floor(streamLen / T));
    const idx = new Int32Array(T * B), tgt = new Int32Array(T * B); // [T·B] time-major
    for (let c = 0; c < bt.chunksPerEpoch; c++) {
      bt.fill(c, idx, tgt);
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          expect(idx[t * B + b]).toBe(b * streamLen + c * T + t); // ramp: value = position
          expect(tgt[t * B + b]).toBe(b * streamLen + c * T + t + 1);
        }
      }
    }
  });

  it("continues each stream across chunks: chunk c+1 starts where chunk c's targets ended", () => {
    const train = Uint16Array.from({ length: 500 }, (_, i) => (i * 7919) % 97);
    const B = 4, T = 11;
    const bt = makeBatcher(train, B, T);
    const a = new Int32Array(T * B), at = new Int32Array(T * B), b = new Int32Array(T * B), btg = new Int32Array(T * B);
    for (let c = 0; c + 1 < bt.chunksPerEpoch; c++) {
      bt.fill(c, a, at);
      bt.fill(c + 1, b, btg);
      for (let s = 0; s < B; s++) {
        expect(b[0 * B + s]).toBe(at[(T - 1) * B + s]); // first input of the next chunk = last target
        for (let t = 0; t + 1 < T; t++) expect(a[(t + 1) * B + s]).toBe(at[t * B + s]); // targets are inputs shifted by one
      }
    }
  });

  it("never reads past the end and uses the last target when the text fits exactly", () => {
    const B = 3, T = 4;
    const train = ramp(B * T + 1); // exactly the minimum
    const bt = makeBatcher(train, B, T);
    expect(bt.chunksPerEpoch).toBe(1);
    const idx = new Int32Array(B * T), tgt = new Int32Array(B * T);
    bt.fill(0, idx, tgt);
    expect(Math.max(...tgt)).toBe(B * T); // the last character is a target
    expect(Math.max(...idx)).toBe(B * T - 1);
  });

  it("a worker's slice of streams equals the same rows of the full fill", () => {
    const train = Uint32Array.from({ length: 2000 }, (_, i) => (i * 31) % 1013);
    const B = 10, T = 6;
    const bt = makeBatcher(train, B, T);
    const full = new Int32Array(T * B), fullT = new Int32Array(T * B);
    for (const c of [0, 3, bt.chunksPerEpoch - 1]) {
      bt.fill(c, full, fullT);
      for (const [b0, nb] of [[0, 10], [0, 3], [3, 4], [7, 3], [9, 1]]) {
        const idx = new Int32Array(T * nb), tgt = new Int32Array(T * nb); // [T·nb]
        bt.fill(c, idx, tgt, b0, nb);
        for (let t = 0; t < T; t++) {
          for (let j = 0; j < nb; j++) {
            expect(idx[t * nb + j]).toBe(full[t * B + b0 + j]);
            expect(tgt[t * nb + j]).toBe(fullT[t * B + b0 + j]);
          }
        }
      }
      // nb defaults to the streams from b0 to the end
      const rest = new Int32Array(T * 4), restT = new Int32Array(T * 4);
      bt.fill(c, rest, restT, 6);
      for (let t = 0; t < T; t++) for (let j = 0; j < 4; j++) expect(rest[t * 4 + j]).toBe(full[t * B + 6 + j]);
    }
  });

  it("rejects out-of-range chunks, stream slices and short arrays", () => {
    const bt = makeBatcher(ramp(100), 3, 5);
    const a = new Int32Array(15), b = new Int32Array(15);
    expect(() => bt.fill(bt.chunksPerEpoch, a, b)).toThrow(RangeError);
    expect(() => bt.fill(-1, a, b)).toThrow(RangeError);
    expect(() => bt.fill(0, a, b, 2, 2)).toThrow(RangeError);
    expect(() => bt.fill(0, new Int32Array(14), b)).toThrow(RangeError);
    expect(() => makeBatcher(ramp(100), 0, 5)).toThrow(UsageError);
  });
});

describe("checkFits", () => {
  /** message of the UsageError checkFits throws */
  const msg = (len: number, B: number, T: number) => {
    try {
      checkFits(len, B, T);
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect((e as Error).message).not.toContain("\n");
      return (e as Error).message;
    }
    throw new Error("checkFits did not throw");
  };
  /** every "--batch b --seq t" the message suggests, which must really fit */
  const suggestions = (m: string, len: number) => {
    expect(m).toContain(" Try ");
    const pairs = [...m.slice(m.indexOf(" Try ")).matchAll(/--batch (\d+) --seq (\d+)/g)].map((x) => [Number(x[1]), Number(x[2])]);
    for (const [b, t] of pairs) expect(() => checkFits(len, b, t)).not.toThrow();
    return pairs;
  };

  it("accepts exactly B·T + 1 characters and more", () => {
    expect(() => checkFits(2501, 50, 50)).not.toThrow();
    expect(() => checkFits(1e6, 50, 50)).not.toThrow();
    expect(msg(2500, 50, 50)).toContain("needs at least 2501");
  });

  it("suggests a smaller --batch and a smaller --seq that fit", () => {
    const m = msg(1234, 50, 50);
    expect(m).toMatch(/^training text has 1234 characters; --batch 50 --seq 50 needs at least 2501\. Try /);
    expect(suggestions(m, 1234)).toEqual([[24, 50], [50, 24]]);
    // the suggestions use all the room there is: one more stream or step would not fit
    expect(() => checkFits(1234, 25, 50)).toThrow(UsageError);
    expect(() => checkFits(1234, 50, 25)).toThrow(UsageError);
  });

  it("shrinks both when neither alone is enough", () => {
    const m = msg(30, 50, 50);
    const pairs = suggestions(m, 30);
    expect(pairs).toEqual([[5, 5]]);
  });

  it("only offers suggestions that fit (never --batch 0 or --seq 0)", () => {
    // keeping --seq 100 leaves room for no stream at all, so only the shorter --seq is offered
    expect(suggestions(msg(90, 2, 100), 90)).toEqual([[2, 44]]);
    expect(suggestions(msg(90, 100, 2), 90)).toEqual([[44, 2]]);
  });

  it("says to use a longer corpus when there is nothing to train on", () => {
    expect(msg(1, 2, 2)).toMatch(/training text has 1 character;.*longer corpus/);
    expect(msg(0, 2, 2)).toMatch(/has 0 characters/);
  });
});
