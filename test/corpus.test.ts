import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { decodeIds, encodeText, readCorpus, vocabIndex } from "../src/corpus/corpus.ts";
import { RnnError, UsageError } from "../src/errors.ts";
import { makeRng } from "../src/rng.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-corpus-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;
function tmp(content: string | Uint8Array, name?: string): string {
  const p = path.join(dir, name ?? `f${counter++}.txt`);
  fs.writeFileSync(p, content);
  return p;
}
const bytes = (...b: number[]) => Uint8Array.from(b);

/** The error readCorpus throws for these paths (fails the test if it does not throw). */
function errorOf(paths: string[], opts?: { chunkBytes?: number }): Error {
  try {
    readCorpus(paths, undefined, opts);
  } catch (e) {
    return e as Error;
  }
  throw new Error("readCorpus did not throw");
}
function expectOneLine(e: Error, cls: typeof RnnError | typeof UsageError, ...parts: (string | RegExp)[]) {
  expect(e).toBeInstanceOf(cls);
  expect(e.message).not.toContain("\n");
  for (const p of parts) expect(e.message).toMatch(p);
}

describe("readCorpus: vocabulary and ids", () => {
  const text = "héllo 🙂 世界 😀𝄞 hi\n🙂";
  it("makes each code point one token (emoji, CJK, astral) and sorts vocab by code point", () => {
    const c = readCorpus([tmp(text)]);
    const cps = [...new Set([...text].map((ch) => ch.codePointAt(0)!))].sort((a, b) => a - b);
    expect(c.vocab).toEqual(cps.map((x) => String.fromCodePoint(x)));
    for (const v of c.vocab) expect([...v].length).toBe(1);
    expect(c.vocab).toContain("🙂");
    expect(c.vocab).toContain("𝄞");
    expect(c.ids.length).toBe([...text].length);
    expect(c.ids).toBeInstanceOf(Uint16Array);
    expect(decodeIds(c.ids, c.vocab)).toBe(text);
    expect(c.bytes).toBe(Buffer.byteLength(text));
  });

  it("decodes identically whatever the read size (UTF-8 sequences split across reads)", () => {
    const p = tmp(text.repeat(5));
    const whole = readCorpus([p]);
    for (const chunkBytes of [1, 2, 3, 5, 7, 64]) {
      const c = readCorpus([p], undefined, { chunkBytes });
      expect(c.vocab).toEqual(whole.vocab);
      expect(Array.from(c.ids)).toEqual(Array.from(whole.ids));
    }
  });

  it("concatenates several files in order, with no separator", () => {
    const a = tmp("ab€"), b = tmp("😀c"), c = tmp("a");
    const cor = readCorpus([a, b, c], undefined, { chunkBytes: 3 });
    expect(decodeIds(cor.ids, cor.vocab)).toBe("ab€😀ca");
    expect(cor.paths).toEqual([a, b, c]);
    expect(cor.bytes).toBe(5 + 5 + 1);
  });

  it("strips a UTF-8 BOM at the start of each file, but keeps U+FEFF elsewhere", () => {
    const bom = "\uFEFF";
    const a = tmp(bom + "xy"), b = tmp(bom + "z" + bom);
    for (const chunkBytes of [1, 2, 1024]) {
      const c = readCorpus([a, b], undefined, { chunkBytes });
      expect(decodeIds(c.ids, c.vocab)).toBe("xyz" + bom);
    }
    expect(decodeIds(readCorpus([a]).ids, readCorpus([a]).vocab)).toBe("xy");
  });

  it("uses Uint32Array ids when there are more than 65536 distinct code points", () => {
    // 65537 code points: U+0020.. skipping the surrogate range, so all are encodable.
    const cps: number[] = [];
    for (let c = 0x20; cps.length < 65537; c++) if (c < 0xd800 || c > 0xdfff) cps.push(c);
    const p = tmp(String.fromCodePoint(...cps.slice(0, 30000)) + String.fromCodePoint(...cps.slice(30000)));
    const c = readCorpus([p]);
    expect(c.vocab.length).toBe(65537);
    expect(c.ids).toBeInstanceOf(Uint32Array);
    expect(c.ids[65536]).toBe(65536);
    // one fewer distinct code point → Uint16
    const q = tmp(String.fromCodePoint(...cps.slice(0, 30000)) + String.fromCodePoint(...cps.slice(30000, 65536)));
    expect(readCorpus([q]).ids).toBeInstanceOf(Uint16Array);
  });

  it("accepts exactly what a strict UTF-8 decoder accepts, and decodes the same text (random bytes)", () => {
    const rng = makeRng(7);
    const pick = <T,>(a: T[]) => a[rng.int(a.length)];
    const pool = [0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf3, 0xf4, 0xf5, 0xff, 0xbb];
    const chars = ["a", "é", "€", "\uFEFF", "\uD7FF", "\uE000", "\uFFFF", "😀", "\u{10FFFF}", "\u{10000}"];
    const strict = new TextDecoder("utf-8", { fatal: true }); // strips a leading BOM, like readCorpus
    let valid = 0, invalid = 0;
    for (let k = 0; k < 300; k++) {
      // a few tokens, each a valid character's bytes or (sometimes) one byte from the pool
      const parts: number[] = [];
      for (let j = 1 + rng.int(5); j > 0; j--) {
        if (rng.next() < 0.8) parts.push(...Buffer.from(pick(chars), "utf8"));
        else parts.push(pick(pool));
      }
      const b = Uint8Array.from(parts);
      let want: string | null = null;
      try {
        want = strict.decode(b);
      } catch {
        // invalid
      }
      const p = tmp(b, "fuzz.txt");
      if (want === null) {
        expect(errorOf([p], { chunkBytes: 1 + rng.int(4) }).message).toMatch(/not valid UTF-8/);
        invalid++;
      } else if (want.length > 0) {
        const c = readCorpus([p], undefined, { chunkBytes: 1 + rng.int(4) });
        expect(decodeIds(c.ids, c.vocab)).toBe(want);
        valid++;
      }
    }
    expect(valid).toBeGreaterThan(50); // both outcomes are common
    expect(invalid).toBeGreaterThan(50);
  });

  it("reports progress up to twice the byte count (two passes)", () => {
    const p = tmp("x".repeat(100));
    const calls: [number, number][] = [];
    readCorpus([p], (d, t) => calls.push([d, t]), { chunkBytes: 16 });
    expect(calls.length).toBe(2 * Math.ceil(100 / 16));
    expect(calls.at(-1)).toEqual([200, 200]);
    for (let i = 1; i < calls.length; i++) expect(calls[i][0]).toBeGreaterThan(calls[i - 1][0]);
  });
});

describe("readCorpus: errors are one line, with the problem and the fix", () => {
  it("no files", () => expectOneLine(errorOf([]), UsageError, /no corpus/));

  it("missing file", () => {
    const p = path.join(dir, "nope.txt");
    expectOneLine(errorOf([tmp("ok"), p]), RnnError, `corpus file '${p}' not found`);
  });

  it("directory", () => expectOneLine(errorOf([dir]), RnnError, "is a directory", "inside it"));

  it("empty file, and a file that is only a BOM", () => {
    expectOneLine(errorOf([tmp("")]), RnnError, "is empty");
    expectOneLine(errorOf([tmp("\uFEFF")]), RnnError, "is empty", "byte-order mark");
  });

  it("binary file: names the offset of the NUL byte", () => {
    expectOneLine(errorOf([tmp(bytes(0x61, 0x62, 0x63, 0x00, 0x64))]), RnnError, "binary", "NUL byte at byte offset 3");
    // a typical binary header fails UTF-8 before its first NUL: still called binary
    const png = bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00);
    expectOneLine(errorOf([tmp(png)]), RnnError, "binary", "byte offset 8");
    // NUL in a later read
    expectOneLine(errorOf([tmp(bytes(...Array(20).fill(0x41), 0x00))], { chunkBytes: 7 }), RnnError, "byte offset 20");
  });

  const bad: [string, number[], number, RegExp][] = [
    ["stray continuation byte", [0x61, 0x80], 1, /continuation byte 0x80/],
    ["overlong 2-byte (C0 80)", [0x61, 0x62, 0xc0, 0x80], 2, /overlong/],
    ["overlong 3-byte (E0 80 80)", [0x61, 0xe0, 0x80, 0x80], 1, /overlong/],
    ["overlong 4-byte (F0 80 80 80)", [0xf0, 0x80, 0x80, 0x80], 0, /overlong/],
    ["surrogate U+D800 (ED A0 80)", [0x61, 0x61, 0x61, 0xed, 0xa0, 0x80], 3, /surrogate/],
    ["above U+10FFFF (F4 90 80 80)", [0xf4, 0x90, 0x80, 0x80], 0, /above U\+10FFFF/],
    ["byte F8", [0x61, 0xf8], 1, /0xF8 never appears/],
    ["lead byte then ASCII", [0x61, 0xe2, 0x82, 0x41], 1, /incomplete/],
    ["truncated at end of file", [0x61, 0x62, 0xe2, 0x82], 2, /file ends inside a truncated 3-byte sequence/],
  ];
  for (const [what, b, off, why] of bad) {
    it(`invalid UTF-8: ${what} → byte offset ${off}`, () => {
      const p = tmp(bytes(...b));
      for (const chunkBytes of [1, 2, 1024]) {
        expectOneLine(errorOf([p], { chunkBytes }), RnnError, `'${p}' is not valid UTF-8`, why, `at byte offset ${off};`, "convert it to UTF-8");
      }
    });
  }

  it("invalid UTF-8 in the second file names that file and its own offset", () => {
    const a = tmp("hello"), b = tmp(bytes(0x68, 0x69, 0xff));
    expectOneLine(errorOf([a, b]), RnnError, `'${b}'`, "byte offset 2");
  });

  it("the offset counts a BOM", () => {
    expectOneLine(errorOf([tmp(bytes(0xef, 0xbb, 0xbf, 0x61, 0xc1, 0x81))]), RnnError, "byte offset 4");
  });

  it("no permission", () => {
    const p = tmp("secret");
    const spy = vi.spyOn(fs, "openSync").mockImplementation(() => {
      throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
    });
    try {
      expectOneLine(errorOf([p]), RnnError, `cannot read corpus file '${p}': permission denied`, "chmod");
    } finally {
      spy.mockRestore();
    }
    expect(readCorpus([p]).ids.length).toBe(6);
  });
});

describe("encodeText / decodeIds", () => {
  const vocab = ["\n", " ", "a", "b", "é", "🙂"];
  it("encodes by code point and counts unknown characters as -1", () => {
    const { ids, unknown } = encodeText("ab 🙂x😀xé", vocab);
    expect(Array.from(ids)).toEqual([2, 3, 1, 5, -1, -1, -1, 4]);
    expect(unknown).toEqual(new Map([["x", 2], ["😀", 1]]));
    expect(decodeIds(ids, vocab)).toBe("ab 🙂\uFFFD\uFFFD\uFFFDé");
  });
  it("round-trips text made of vocabulary characters", () => {
    const s = "a🙂b\né a";
    const { ids, unknown } = encodeText(s, vocab);
    expect(unknown.size).toBe(0);
    expect(decodeIds(ids, vocab)).toBe(s);
  });
  it("rejects ids outside the vocabulary", () => {
    expect(() => decodeIds([0, 6], vocab)).toThrow(RnnError);
    expect(() => decodeIds([-2], vocab)).toThrow(/outside the vocabulary of 6/);
  });
  it("vocabIndex inverts vocab", () => {
    const m = vocabIndex(vocab);
    vocab.forEach((ch, i) => expect(m.get(ch)).toBe(i));
  });
});
