// Checkpoint validation (src/checkpoint/validate.ts), on checkpoints crafted with correct checksums: each bad
// config value, shape, tensor, weight or vocabulary entry is one line naming it, found before anything is
// allocated from the file; a good checkpoint loads exactly as before.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { encodeModel, loadModel } from "../src/checkpoint/checkpoint.ts";
import { checkpointProblems, LIMITS, validateCheckpoint } from "../src/checkpoint/validate.ts";
import { type ModelConfig, resolveTrainConfig } from "../src/config.ts";
import { RnnError } from "../src/errors.ts";
import { decodeSafetensors, type Decoded, encodeSafetensors } from "../src/io/safetensors.ts";
import { refF32 } from "../src/kernels/ref.ts";
import { createModel } from "../src/model/model.ts";
import { makeRng } from "../src/rng.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-validate-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const VOCAB = [..."\n abcdefghij"];
/** a well-formed --time auto-sizing record */
const AUTO = { budget: 60, charsPerSec: 1000, reference: "r", rule: "x" };

/** A real checkpoint (random weights) of the given model, as bytes with a correct checksum. */
function checkpoint(model: Partial<ModelConfig> = {}): Buffer {
  const cfg = resolveTrainConfig({ model: { cell: "lstm", layers: 2, hidden: 8, embed: 0, vocabSize: VOCAB.length, ...model }, corpus: ["/data/x.txt"] }, { threads: 1, out: "/tmp/run" });
  const m = createModel(cfg.model, refF32);
  const rng = makeRng(3);
  for (let i = 0; i < m.params.data.length; i++) m.params.data[i] = rng.normal() * 0.1;
  return encodeModel(m, { config: cfg, vocab: VOCAB.slice(0, cfg.model.vocabSize), step: 7, bestValLoss: 1.25 });
}

const decode = (b: Buffer): Decoded => decodeSafetensors(b, "ckpt");

/** Re-encode a checkpoint after `edit` (the checksum is recomputed, as an attacker would). */
function craft(edit: (d: { tensors: { name: string; shape: number[]; data: Float32Array }[]; metadata: Record<string, string>; config: any; vocab: any }) => void, base = checkpoint()): Buffer {
  const d = decode(base);
  const x = {
    tensors: [...d.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })),
    metadata: { ...d.metadata },
    config: JSON.parse(d.metadata.config),
    vocab: JSON.parse(d.metadata.vocab),
  };
  edit(x);
  x.metadata.config = JSON.stringify(x.config);
  x.metadata.vocab = JSON.stringify(x.vocab);
  return encodeSafetensors(x.tensors, x.metadata);
}

/** The one-line error validateCheckpoint throws for these bytes. */
function refusal(b: Buffer): string {
  try {
    validateCheckpoint(decode(b), "ckpt");
  } catch (e) {
    expect(e).toBeInstanceOf(RnnError);
    expect((e as Error).message).not.toContain("\n");
    return (e as Error).message;
  }
  throw new Error("accepted");
}

describe("validateCheckpoint accepts what rnn writes", () => {
  for (const model of [
    { cell: "lstm" }, { cell: "gru", embed: 4 }, { cell: "rnn", activation: "relu" }, { cell: "rnn", layers: 3, residual: true }, { cell: "lstm", layers: 1, embed: 5 },
  ] as Partial<ModelConfig>[]) {
    it(JSON.stringify(model), () => {
      const b = checkpoint(model);
      expect(checkpointProblems(decode(b))).toEqual([]);
      const v = validateCheckpoint(decode(b), "ckpt");
      expect(v.step).toBe(7);
      expect(v.bestValLoss).toBe(1.25);
      expect(v.vocab).toEqual(VOCAB);
      expect(v.config.model).toMatchObject(model);
    });
  }

  it("an --time auto-sizing record, planned again or not", () => {
    for (const autoSize of [AUTO, { ...AUTO, replanned: { step: 3, elapsed: 10.5, charsPerSec: 900, was: 50, steps: 40 } }, { ...AUTO, replanned: { step: 3, elapsed: 10.5, charsPerSec: 900, was: 50, steps: 40, times: 4 } }]) {
      expect(checkpointProblems(decode(craft((x) => (x.config.autoSize = autoSize))))).toEqual([]);
    }
    // … and the bends its re-plans left in the cosine
    expect(checkpointProblems(decode(craft((x) => Object.assign(x.config, { lrSchedule: "cosine", lrMin: 0, lrHorizon: 40, lrBends: [[3, 0.05], [9, 0.2]] }))))).toEqual([]);
  });

  it("expects exactly PyTorch's state_dict shapes (G = 4 lstm, 3 gru, 1 rnn; In = E or V, then H)", () => {
    const d = decode(checkpoint({ cell: "gru", layers: 2, hidden: 8, embed: 5 }));
    const shapes = Object.fromEntries([...d.tensors].map(([n, t]) => [n, t.shape]));
    expect(shapes).toEqual({
      "embedding.weight": [12, 5],
      "rnn.weight_ih_l0": [24, 5], "rnn.weight_hh_l0": [24, 8], "rnn.bias_ih_l0": [24], "rnn.bias_hh_l0": [24],
      "rnn.weight_ih_l1": [24, 8], "rnn.weight_hh_l1": [24, 8], "rnn.bias_ih_l1": [24], "rnn.bias_hh_l1": [24],
      "decoder.weight": [12, 8], "decoder.bias": [12],
    });
  });
});

describe("validateCheckpoint refuses, in one line naming the problem", () => {
  const cases: [string, (x: any) => void, RegExp][] = [
    ["layers 1e9", (x) => (x.config.model.layers = 1e9), /config\.model\.layers is 1000000000, not a whole number in 1\.\.1024/],
    ["layers 0", (x) => (x.config.model.layers = 0), /config\.model\.layers is 0,/],
    ["layers 2.5", (x) => (x.config.model.layers = 2.5), /config\.model\.layers is 2\.5,/],
    ["layers as a string", (x) => (x.config.model.layers = "2"), /config\.model\.layers is "2",/],
    ["hidden 1e6", (x) => (x.config.model.hidden = 1e6), /config\.model\.hidden is 1000000, not a whole number in 1\.\.65536/],
    ["embed -1", (x) => (x.config.model.embed = -1), /config\.model\.embed is -1, not a whole number in 0\.\.65536/],
    ["an unknown cell", (x) => (x.config.model.cell = "transformer"), /config\.model\.cell is "transformer", not one of rnn, lstm, gru/],
    ["relu for lstm", (x) => (x.config.model.activation = "relu"), /activation is relu for the lstm cell/],
    ["no model config", (x) => delete x.config.model, /config\.model is undefined, not an object/],
    ["vocabSize disagreeing with the vocabulary", (x) => (x.config.model.vocabSize = 13), /the vocabulary has 12 entries but config\.model\.vocabSize is 13/],
    ["a duplicate vocabulary entry", (x) => (x.vocab[3] = x.vocab[2]), /vocabulary entries 2 and 3 are both "a" \(entries must be distinct\)/],
    ["a vocabulary entry of two characters", (x) => (x.vocab[4] = "ab"), /vocabulary entry 4 is "ab", not a single character/],
    ["a vocabulary entry that is not a string", (x) => (x.vocab[0] = 10), /vocabulary entry 0 is 10, not a single character/],
    ["a lone surrogate in the vocabulary", (x) => (x.vocab[5] = "\ud800"), /vocabulary entry 5 is a lone UTF-16 surrogate \(U\+D800\)/],
    ["a vocabulary that is not a list", (x) => (x.vocab = { a: 1 }), /the vocabulary is \{"a":1\}, not a list/],
    ["a wrong shape", (x) => { const t = x.tensors.find((t: any) => t.name === "rnn.weight_hh_l1"); t.shape = [16, 16]; t.data = new Float32Array(256); },
      /tensor rnn\.weight_hh_l1 has shape \[16×16\], the config implies \[32×8\]/],
    ["a transposed shape", (x) => { x.tensors.find((t: any) => t.name === "decoder.weight").shape = [8, 12]; }, /tensor decoder\.weight has shape \[8×12\], the config implies \[12×8\]/],
    ["a missing tensor", (x) => (x.tensors = x.tensors.filter((t: any) => t.name !== "decoder.bias")), /tensor decoder\.bias \[12\] is missing/],
    ["an unknown tensor", (x) => x.tensors.push({ name: "rnn.weight_ih_l2", shape: [2], data: new Float32Array(2) }), /unknown tensor "rnn\.weight_ih_l2"/],
    ["a NaN weight", (x) => (x.tensors.find((t: any) => t.name === "rnn.bias_ih_l0").data[5] = NaN), /tensor rnn\.bias_ih_l0 has a NaN at index 5/],
    ["an infinite weight", (x) => (x.tensors.at(-1).data[0] = -Infinity), /tensor decoder\.bias has an infinite value at index 0/],
    ["a bad step", (x) => (x.metadata.step = "-3"), /its metadata step is "-3", not a whole number ≥ 0/],
    ["a bad best_val_loss", (x) => (x.metadata.best_val_loss = "low"), /its metadata best_val_loss is "low", not a number or null/],
    ["batch 1e9", (x) => (x.config.batch = 1e9), /config\.batch is 1000000000, not a whole number in 1\.\.16777216/],
    ["threads 1e6", (x) => (x.config.threads = 1e6), /config\.threads is 1000000, not a whole number in 1\.\.4096/],
    ["valFrac 1", (x) => (x.config.valFrac = 1), /config\.valFrac is 1, not a number in \[0, 1\)/],
    ["corpus not a list", (x) => (x.config.corpus = "x.txt"), /config\.corpus is "x\.txt", not a list of file names/],
    ["lr NaN (null in JSON)", (x) => (x.config.lr = null), /config\.lr is null, not a finite number/],
    ["an autoSize record without its rule", (x) => (x.config.autoSize = { budget: 60, charsPerSec: 1000, reference: "r" }), /config\.autoSize is .*, not a record of --time auto-sizing \(\{budget, charsPerSec, reference, rule\}\)/],
    ["a replanned record without its new horizon", (x) => (x.config.autoSize = { ...AUTO, replanned: { step: 3, elapsed: 10, charsPerSec: 900, was: 50 } }),
      /config\.autoSize\.replanned is .*, not a record of the horizon planned again \(\{step, elapsed, charsPerSec, was, steps\}\)/],
    ["a replanned record with 0 times", (x) => (x.config.autoSize = { ...AUTO, replanned: { step: 3, elapsed: 10, charsPerSec: 900, was: 50, steps: 40, times: 0 } }),
      /config\.autoSize\.replanned\.times is 0, not a whole number ≥ 1/],
    ["bends out of order", (x) => (x.config.lrBends = [[9, 0.2], [3, 0.05]]), /config\.lrBends is \[\[9,0\.2\],\[3,0\.05\]\], not a list of \[step, phase\] bends of the cosine/],
    ["a bend past the cosine's end", (x) => (x.config.lrBends = [[3, 1]]), /config\.lrBends is .*, not a list of \[step, phase\] bends/],
    ["bends not a list", (x) => (x.config.lrBends = { 3: 0.1 }), /config\.lrBends is .*, not a list of \[step, phase\] bends/],
    ["a replanned record with a step that is not a number", (x) => (x.config.autoSize = { ...AUTO, replanned: { step: "3", elapsed: 10, charsPerSec: 900, was: 50, steps: 40 } }),
      /config\.autoSize\.replanned is .*, not a record of the horizon planned again/],
  ];
  for (const [name, edit, re] of cases) {
    it(name, () => {
      const msg = refusal(craft(edit));
      expect(msg).toMatch(/^ckpt is not a valid rnn checkpoint: /);
      expect(msg).toMatch(re);
      expect(msg).toMatch(/; it was not written by rnn train or was altered — use another checkpoint$/);
    });
  }

  it("a config whose parameter count is beyond the bound is refused before its tensors are looked at", () => {
    const msg = refusal(craft((x) => Object.assign(x.config.model, { layers: 1024, hidden: 65536 })));
    expect(msg).toMatch(/its config implies [\d,]+ parameters, more than rnn loads \(1,073,741,824\)/);
    expect(LIMITS.params).toBe(2 ** 30);
  });

  it("several problems: the first, and how many more", () => {
    const msg = refusal(craft((x) => { x.vocab[1] = x.vocab[0]; x.tensors[0].data[0] = NaN; }));
    expect(msg).toMatch(/vocabulary entries 0 and 1 .* \(and 1 more problem\)/);
  });

  it("metadata without a config or vocabulary, or with invalid JSON", () => {
    const d = decode(checkpoint());
    expect(checkpointProblems({ ...d, metadata: { ...d.metadata, config: undefined as unknown as string } })).toEqual(["its metadata has no config"]);
    expect(checkpointProblems({ ...d, metadata: { ...d.metadata, vocab: "[" } })).toEqual(["its metadata vocab is not valid JSON"]);
  });
});

describe("loadModel validates before it allocates", () => {
  it("a good checkpoint loads with the same weights and metadata", () => {
    const f = path.join(dir, "good.safetensors");
    const b = checkpoint({ cell: "gru", embed: 4 });
    fs.writeFileSync(f, b);
    const { model, meta } = loadModel(f, refF32);
    expect(meta.step).toBe(7);
    expect(meta.bestValLoss).toBe(1.25);
    const d = decode(b);
    for (const t of model.spec.tensors) expect(Array.from(model.params.views[t.name])).toEqual(Array.from(d.tensors.get(t.name)!.data));
    expect(encodeModel(model, meta).equals(b)).toBe(true); // saving it again gives the same bytes
  });

  it("layers 1e9 with a recomputed checksum: one line, at once, nothing allocated", () => {
    const f = path.join(dir, "huge.safetensors");
    fs.writeFileSync(f, craft((x) => (x.config.model.layers = 1e9)));
    const t0 = performance.now();
    expect(() => loadModel(f, refF32)).toThrow(new RnnError(`${f} is not a valid rnn checkpoint: config.model.layers is 1000000000, not a whole number in 1..1024; it was not written by rnn train or was altered — use another checkpoint`));
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe("--norm checkpoints: the gains and batch norm's running statistics are checked as the weights are", () => {
  const bn = () => checkpoint({ norm: "batch" });
  it("accepts what rnn writes, and refuses a norm it does not know, a missing or misshapen statistic, a negative variance", () => {
    expect(checkpointProblems(decode(checkpoint({ norm: "layer" })))).toEqual([]);
    expect(checkpointProblems(decode(bn()))).toEqual([]);
    expect(refusal(craft((x) => void (x.config.model.norm = "group"), bn()))).toMatch(/config\.model\.norm is "group", not one of layer, batch/);
    expect(refusal(craft((x) => void (x.tensors = x.tensors.filter((t) => t.name !== "rnn.norm_hh_l1.running_var")), bn()))).toMatch(
      /tensor rnn\.norm_hh_l1\.running_var \[32\] is missing \(the config implies it\)/,
    );
    expect(refusal(craft((x) => void (x.tensors.find((t) => t.name === "rnn.norm_c_l0.running_mean")!.shape = [4, 2]), bn()))).toMatch(
      /tensor rnn\.norm_c_l0\.running_mean has shape \[4×2\], the config implies \[8\]/,
    );
    expect(refusal(craft((x) => void (x.tensors.find((t) => t.name === "rnn.norm_ih_l0.running_var")!.data[3] = -0.5), bn()))).toMatch(
      /tensor rnn\.norm_ih_l0\.running_var has a negative variance at index 3/,
    );
    // a layer-norm model has no statistics: one there is unknown
    const ln = checkpoint({ norm: "layer" });
    expect(refusal(craft((x) => void x.tensors.push({ name: "rnn.norm_ih_l0.running_mean", shape: [32], data: new Float32Array(32) }), ln))).toMatch(
      /unknown tensor "rnn\.norm_ih_l0\.running_mean"/,
    );
  });
});
