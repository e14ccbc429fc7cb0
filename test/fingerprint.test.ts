// The corpus fingerprint (src/corpus/fingerprint.ts): the same text gives the same fingerprint wherever it
// lives; a cut, an edit of the same size, a changed file of several, a file more or less are each noticed and
// described in one line that suggests --init-from.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCorpus } from "../src/corpus/corpus.ts";
import { RnnError } from "../src/errors.ts";
import {
  describeChange,
  encodeFingerprint,
  FingerprintBuilder,
  fingerprintFiles,
  parseFingerprint,
  sameText,
} from "../src/corpus/fingerprint.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-fp-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string | Buffer) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};
const TEXT = "the king and the queen of a small river town sang to every bird in May\n".repeat(200);

describe("fingerprintFiles", () => {
  it("is the same for the same text under another name, different for other text", () => {
    const a = fingerprintFiles([write("a.txt", TEXT)]);
    const b = fingerprintFiles([write("b.txt", TEXT)]);
    expect(b).toEqual(a);
    expect(a.bytes).toBe(Buffer.byteLength(TEXT));
    expect(a.files).toHaveLength(1);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(describeChange(a, b)).toBeNull();
    expect(sameText(a, fingerprintFiles([write("c.txt", TEXT + "x")]))).toBe(false);
  });

  it("depends on the file boundaries and order", () => {
    const x = write("x.txt", "abc"), y = write("y.txt", "def"), xy = write("xy.txt", "abcdef");
    expect(fingerprintFiles([x, y]).sha256).not.toBe(fingerprintFiles([y, x]).sha256);
    expect(fingerprintFiles([x, y]).sha256).not.toBe(fingerprintFiles([xy]).sha256);
  });

  it("FingerprintBuilder fed the bytes in any pieces gives the same fingerprint", () => {
    const p = write("pieces.txt", TEXT), q = write("pieces2.txt", "second file ✓\n");
    const b = new FingerprintBuilder();
    for (const f of [p, q]) {
      b.beginFile();
      const bytes = fs.readFileSync(f);
      for (let i = 0; i < bytes.length; i += 777) b.update(bytes.subarray(i, i + 777));
    }
    expect(b.finish(1234)).toEqual({ ...fingerprintFiles([p, q]), chars: 1234 });
  });

  it("refuses a missing file and a FIFO-like non-file with one line (no hang)", () => {
    expect(() => fingerprintFiles([path.join(dir, "nope")])).toThrow(RnnError);
    expect(() => fingerprintFiles(["/dev/zero"])).toThrow(/not a regular file/);
  });
});

describe("describeChange", () => {
  const old = fingerprintFiles([write("old.txt", TEXT)], TEXT.length);

  it("a corpus cut in half: sizes and the percentage, and --init-from", () => {
    const half = TEXT.slice(0, TEXT.length / 2);
    const now = fingerprintFiles([write("half.txt", half)], half.length);
    const line = describeChange(old, now, { paths: ["/data/input.txt"], run: "runs/r1" })!;
    expect(line).not.toContain("\n");
    expect(line).toBe(
      "the training text has changed since this run was made: corpus '/data/input.txt' was 14,200 bytes, now 7,100 (-50%); " +
        "14,200 characters then, 7,100 now. --resume continues only on the same text; to train on the new text, " +
        "start a new run from this one's weights: rnn train FILE... --init-from runs/r1",
    );
  });

  it('"the" → "teh": same size, different content', () => {
    const edited = TEXT.replace("the", "teh");
    const now = fingerprintFiles([write("teh.txt", edited)], edited.length);
    expect(describeChange(old, now)).toMatch(/: corpus file has the same size \(14,200 bytes\) but different content\. --resume continues only on the same text; .*--init-from RUN$/);
  });

  it("names the first changed file of several, and counts the rest", () => {
    const files = ["p.txt", "q.txt", "r.txt"].map((n) => write(n, n.repeat(10)));
    const before = fingerprintFiles(files);
    write("q.txt", "changed");
    write("r.txt", "changed too");
    const line = describeChange(before, fingerprintFiles(files), { paths: files })!;
    expect(line).toContain(`corpus '${files[1]}' was 50 bytes, now 7 (-86%); 1 more file changed too.`);
    const line2 = describeChange(before, fingerprintFiles(files))!;
    expect(line2).toContain("corpus file 2 of 3 was 50 bytes");
  });

  it("a file more or less", () => {
    const a = write("one.txt", "abc"), b = write("two.txt", "def");
    expect(describeChange(fingerprintFiles([a]), fingerprintFiles([a, b]))).toMatch(/it was 1 file \(3 bytes\), now 2 \(6 bytes\)/);
  });

  it("growth is a positive percentage", () => {
    const now = fingerprintFiles([write("more.txt", TEXT + TEXT.slice(0, 144))]);
    expect(describeChange(old, now)).toMatch(/was 14,200 bytes, now 14,344 \(\+1%\)/);
  });
});

describe("stored form", () => {
  it("round-trips through encode/parse; anything else parses to null", () => {
    const fp = fingerprintFiles([write("s.txt", TEXT)], 99);
    expect(parseFingerprint(encodeFingerprint(fp))).toEqual(fp);
    const noChars = fingerprintFiles([write("s2.txt", TEXT)]);
    expect(parseFingerprint(encodeFingerprint(noChars))).toEqual(noChars);
    for (const bad of [undefined, "", "null", "{}", "[1]", JSON.stringify({ ...fp, version: 2 }), JSON.stringify({ ...fp, sha256: "xyz" }),
      JSON.stringify({ ...fp, files: [{ bytes: -1, sha256: fp.sha256 }] }), JSON.stringify({ ...fp, chars: 1.5 })]) {
      expect(parseFingerprint(bad)).toBeNull();
    }
  });
});

describe("readCorpus's fingerprint", () => {
  it("is fingerprintFiles' of the same files (BOMs included, any read size), with the character count", () => {
    const a = write("rc-a.txt", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("héllo wörld\n".repeat(50))]));
    const b = write("rc-b.txt", "😀 and more text\n".repeat(30));
    for (const chunkBytes of [1, 7, 1 << 20]) {
      const c = readCorpus([a, b], undefined, { chunkBytes, fingerprint: true });
      expect(c.fingerprint).toEqual(fingerprintFiles([a, b], c.chars));
    }
    expect(readCorpus([a]).fingerprint).toBeUndefined(); // only when asked
  });
});
