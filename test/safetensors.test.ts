// safetensors encode/decode: round trip, determinism, alignment, files built by hand from the spec, and every
// way a checkpoint can be cut short or mangled — each must be one one-line RnnError, never another exception.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RnnError } from "../src/errors.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";
import {
  FORMAT_VERSION,
  checkFormatVersion,
  decodeSafetensors,
  encodeSafetensors,
  readCheckpointFile,
  type TensorIn,
} from "../src/io/safetensors.ts";
import { makeRng } from "../src/rng.ts";

const dir = mkdtempSync(join(tmpdir(), "rnn-st-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function randomTensors(seed: number): TensorIn[] {
  const rng = makeRng(seed);
  const fill = <A extends Float32Array | Float64Array>(a: A): A => {
    for (let i = 0; i < a.length; i++) a[i] = rng.normal();
    return a;
  };
  return [
    { name: "embedding.weight", shape: [5, 3], data: fill(new Float32Array(15)) },
    { name: "rnn.weight_ih_l0", shape: [8, 3], data: fill(new Float64Array(24)) }, // f64 in → f32 out
    { name: "rnn.bias_ih_l0", shape: [8], data: fill(new Float32Array(8)) },
    { name: "scalar", shape: [], data: fill(new Float32Array(1)) },
    { name: "empty", shape: [0, 4], data: new Float32Array(0) },
    { name: "décodeur.poids ✓", shape: [2, 1, 3], data: fill(new Float64Array(6)) },
  ];
}

/** Catch what `f` throws; fail the test if it throws nothing or anything but a one-line RnnError. */
function rnnError(f: () => unknown): RnnError {
  let caught: unknown;
  try {
    f();
  } catch (err) {
    caught = err;
  }
  if (!(caught instanceof RnnError)) {
    throw new Error(`expected RnnError, got ${caught === undefined ? "no error" : String(caught)}`);
  }
  expect(caught.message).not.toMatch(/[\n\r]/);
  return caught;
}

function headerLength(buf: Uint8Array): number {
  return Number(new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true));
}

/** A safetensors file assembled byte by byte from the spec, independently of the encoder. */
function handBuilt(header: object, data: number[], pad = 0): Buffer {
  const json = Buffer.from(JSON.stringify(header) + " ".repeat(pad), "utf8");
  const out = Buffer.alloc(8 + json.length + 4 * data.length);
  out.writeUInt32LE(json.length, 0); // u64 LE: low word, high word stays 0
  json.copy(out, 8);
  data.forEach((v, i) => out.writeFloatLE(v, 8 + json.length + 4 * i));
  return out;
}

describe("encode/decode", () => {
  it("round-trips several tensors and metadata, f64 rounded to f32, into fresh aligned arrays", () => {
    const ts = randomTensors(1);
    const meta = { config: JSON.stringify({ cell: "lstm", hidden: 8 }), note: "ünïcödé ✓ \"quoted\"" };
    const buf = encodeSafetensors(ts, meta);
    const d = decodeSafetensors(buf, "x.safetensors");
    expect([...d.tensors.keys()]).toEqual(ts.map((t) => t.name));
    for (const t of ts) {
      const got = d.tensors.get(t.name)!;
      expect(got.shape).toEqual(t.shape);
      expect(got.data).toBeInstanceOf(Float32Array);
      expect(Array.from(got.data)).toEqual(Array.from(t.data, Math.fround));
      expect(got.data.buffer).not.toBe(buf.buffer); // a copy, not a view into the file
      expect(got.data.byteOffset).toBe(0);
    }
    expect(d.metadata.config).toBe(meta.config);
    expect(d.metadata.note).toBe(meta.note);
    expect(d.metadata.format_version).toBe(String(FORMAT_VERSION));
    expect(d.metadata.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("is byte-exact deterministic and sensitive to every input", () => {
    const a = encodeSafetensors(randomTensors(2), { k: "v" });
    const b = encodeSafetensors(randomTensors(2), { k: "v" });
    expect(a.equals(b)).toBe(true);
    expect(a.equals(encodeSafetensors(randomTensors(3), { k: "v" }))).toBe(false);
    expect(a.equals(encodeSafetensors(randomTensors(2), { k: "w" }))).toBe(false);
  });

  it("pads the header with spaces to a multiple of 8 so the data section is aligned", () => {
    for (let extra = 0; extra < 16; extra++) {
      const buf = encodeSafetensors([{ name: "w" + "x".repeat(extra), shape: [3], data: new Float32Array(3) }], {});
      const N = headerLength(buf);
      expect(N % 8).toBe(0);
      const text = buf.toString("utf8", 8, 8 + N);
      const json = JSON.stringify(JSON.parse(text));
      expect(text.length - json.length).toBeLessThan(8);
      expect(text.slice(json.length)).toMatch(/^ *$/);
      expect(buf.length).toBe(8 + N + 12);
    }
  });

  it("rejects programming errors on encode (shape/size mismatch, duplicate names)", () => {
    expect(() => encodeSafetensors([{ name: "a", shape: [2, 2], data: new Float32Array(3) }], {})).toThrow(/shape/);
    const t = { name: "a", shape: [1], data: new Float32Array(1) };
    expect(() => encodeSafetensors([t, t], {})).toThrow(/duplicate/);
  });
});

describe("files built by hand from the spec", () => {
  it("decodes a plain safetensors file (no rnn metadata, shuffled JSON order, padding) when not strict", () => {
    const header = {
      b: { dtype: "F32", shape: [3], data_offsets: [8, 20] },
      __metadata__: { source: "hand" },
      a: { dtype: "F32", shape: [1, 2], data_offsets: [0, 8] },
    };
    const buf = handBuilt(header, [1.5, -2, 3, 0.25, -1e-3], 5);
    const d = decodeSafetensors(buf, "hand.safetensors", { strict: false });
    expect([...d.tensors.keys()]).toEqual(["a", "b"]); // data-section order
    expect(d.tensors.get("a")).toEqual({ shape: [1, 2], data: new Float32Array([1.5, -2]) });
    expect(d.tensors.get("b")).toEqual({ shape: [3], data: new Float32Array([3, 0.25, Math.fround(-1e-3)]) });
    expect(d.metadata).toEqual({ source: "hand" });
    expect(rnnError(() => decodeSafetensors(buf, "hand.safetensors")).message).toMatch(
      /hand\.safetensors is not an rnn checkpoint: .*no format_version/,
    );
  });

  it("verifies a checksum computed by hand as documented (SHA-256 of the file with the digits zeroed)", () => {
    const zero = "0".repeat(64);
    const header = {
      __metadata__: { checksum: "sha256:" + zero, format_version: "1" },
      w: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    };
    const buf = handBuilt(header, [7, -7]);
    const hex = createHash("sha256").update(buf).digest("hex");
    const at = buf.indexOf(zero);
    buf.write(hex, at, "latin1");
    const d = decodeSafetensors(buf, "sum.safetensors");
    expect(Array.from(d.tensors.get("w")!.data)).toEqual([7, -7]);
    buf.write("f".repeat(64), at, "latin1");
    expect(rnnError(() => decodeSafetensors(buf, "sum.safetensors")).message).toMatch(/checksum mismatch/);
  });

  const bad: [string, object, number[], RegExp][] = [
    ["dtype F16", { a: { dtype: "F16", shape: [2], data_offsets: [0, 4] } }, [0], /dtype "F16".*F32/],
    ["shape/size mismatch", { a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, [0, 0], /shape \[3\].*8 bytes/],
    [
      "overlap",
      { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [1], data_offsets: [4, 8] } },
      [0, 0],
      /overlaps/,
    ],
    [
      "gap",
      { a: { dtype: "F32", shape: [1], data_offsets: [0, 4] }, b: { dtype: "F32", shape: [1], data_offsets: [8, 12] } },
      [0, 0, 0],
      /gap of 4 bytes/,
    ],
    ["data past the end", { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, [0], /truncated/],
    ["trailing bytes", { a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, [0, 0], /4 unexpected bytes/],
    ["backwards offsets", { a: { dtype: "F32", shape: [0], data_offsets: [4, 0] } }, [0], /backwards/],
    ["negative offset", { a: { dtype: "F32", shape: [1], data_offsets: [-4, 0] } }, [0], /data_offsets/],
    ["fractional shape", { a: { dtype: "F32", shape: [0.5, 2], data_offsets: [0, 4] } }, [0], /shape/],
    ["entry not an object", { a: [1, 2] }, [], /not a JSON object/],
    ["metadata not strings", { __metadata__: { n: 3 } }, [], /metadata "n"/],
    ["header is an array", [1, 2], [], /not an rnn checkpoint \(safetensors\)/],
  ];
  for (const [label, header, data, re] of bad) {
    it(`rejects ${label}`, () => {
      const e = rnnError(() => decodeSafetensors(handBuilt(header, data), "bad.safetensors", { strict: false }));
      expect(e.message).toMatch(/^bad\.safetensors/);
      expect(e.message).toMatch(re);
    });
  }
});

describe("corruption", () => {
  const good = encodeSafetensors(randomTensors(4).slice(0, 4), { config: '{"cell":"gru"}' });
  const N = headerLength(good);

  it("rejects the file truncated at every length with 'truncated'", () => {
    for (let len = 0; len < good.length; len++) {
      const e = rnnError(() => decodeSafetensors(good.subarray(0, len), "cut.safetensors"));
      expect(e.message).toMatch(new RegExp(`^cut\\.safetensors is truncated \\(${len} bytes, .*use an earlier checkpoint$`));
    }
  });

  it("catches every flipped byte in the data section by checksum", () => {
    for (let i = 8 + N; i < good.length; i++) {
      for (const mask of [0x01, 0x80]) {
        const buf = Buffer.from(good);
        buf[i] ^= mask;
        expect(rnnError(() => decodeSafetensors(buf, "flip.safetensors")).message).toMatch(
          /^flip\.safetensors is corrupt: checksum mismatch/,
        );
      }
    }
  });

  it("rejects every flipped byte in the length prefix and header with an RnnError", () => {
    for (let i = 0; i < 8 + N; i++) {
      for (const mask of [0x01, 0x02, 0x08, 0x20, 0x80, 0xff]) {
        const buf = Buffer.from(good);
        buf[i] ^= mask;
        rnnError(() => decodeSafetensors(buf, "flip.safetensors"));
      }
    }
  });

  it("rejects random multi-byte garbage anywhere with an RnnError", () => {
    const rng = makeRng(11);
    for (let k = 0; k < 300; k++) {
      const buf = Buffer.from(good);
      const at = rng.int(buf.length), n = 1 + rng.int(16);
      for (let j = at; j < Math.min(buf.length, at + n); j++) buf[j] = rng.int(256);
      if (buf.equals(good)) continue;
      rnnError(() => decodeSafetensors(buf, "junk.safetensors"));
    }
  });

  it("says 'not an rnn checkpoint (safetensors)' for files that are something else", () => {
    const others = [
      Buffer.from("First Citizen:\nBefore we proceed any further, hear me speak.\n"),
      Buffer.from('{"not": "a checkpoint"}\n'),
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]), // PNG
      Buffer.alloc(64), // zeros: header length 0
    ];
    for (const buf of others) {
      expect(rnnError(() => decodeSafetensors(buf, "other.txt")).message).toMatch(
        /^other\.txt is not an rnn checkpoint \(safetensors\)/,
      );
    }
  });

  it("asks for an upgrade when the format version is newer, and rejects nonsense versions", () => {
    const newer = encodeSafetensors(randomTensors(5), { format_version: "2" });
    expect(rnnError(() => decodeSafetensors(newer, "new.safetensors")).message).toMatch(
      /^new\.safetensors was written by a newer rnn \(format 2.*\); upgrade rnn$/,
    );
    expect(() => checkFormatVersion({ format_version: String(FORMAT_VERSION) }, "x")).not.toThrow();
    expect(rnnError(() => checkFormatVersion({}, "x")).message).toMatch(/no format_version/);
    expect(rnnError(() => checkFormatVersion({ format_version: "1.5" }, "x")).message).toMatch(/not a positive integer/);
    expect(rnnError(() => checkFormatVersion({ format_version: "0" }, "x")).message).toMatch(/not a positive integer/);
  });
});

describe("readCheckpointFile", () => {
  it("reads a file written with writeFileAtomic", () => {
    const p = join(dir, "ok.safetensors");
    const ts = randomTensors(6);
    writeFileAtomic(p, encodeSafetensors(ts, { step: "42" }), { what: "checkpoint" });
    const d = readCheckpointFile(p);
    expect(d.metadata.step).toBe("42");
    expect(Array.from(d.tensors.get("rnn.bias_ih_l0")!.data)).toEqual(Array.from(ts[2].data));
  });

  it("turns missing files, directories and bad paths into one-line errors naming the path", () => {
    const missing = join(dir, "nope.safetensors");
    expect(rnnError(() => readCheckpointFile(missing)).message).toBe(`no checkpoint at ${missing}: no such file; check the path`);
    const sub = join(dir, "adir");
    mkdirSync(sub);
    expect(rnnError(() => readCheckpointFile(sub)).message).toBe(`cannot read checkpoint ${sub}: it is a directory`);
    const file = join(dir, "plain.txt");
    writeFileSync(file, "hello");
    expect(rnnError(() => readCheckpointFile(join(file, "x"))).message).toMatch(/not a directory/);
    expect(rnnError(() => readCheckpointFile(file)).message).toMatch(/truncated|not an rnn checkpoint/);
  });
});
