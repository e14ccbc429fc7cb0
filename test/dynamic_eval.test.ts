// Dynamic evaluation (src/eval/dynamic.ts, `rnn eval --dynamic`): its first chunk is scored exactly as the
// static protocol scores it; on a text repeating a pattern the model never saw it ends clearly below the static
// loss; the model is left as it was and nothing is written; the same numbers every time. Through the binary:
// the human line and --json, labelled "dynamic" and apart from the static numbers, and the refusals.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DYNAMIC_EVAL_DEFAULTS, resolveTrainConfig } from "../src/config.ts";
import { loadModel } from "../src/checkpoint/checkpoint.ts";
import { readCorpus } from "../src/corpus/corpus.ts";
import { evaluateDynamic } from "../src/eval/dynamic.ts";
import { createEvaluator } from "../src/eval/evaluate.ts";
import { createWasmKernels } from "../src/kernels/wasm.ts";
import { refF32 } from "../src/kernels/ref.ts";
import { train } from "../src/train/train.ts";
import { errLines, makeCorpus, rnn, snapshot, tempDir } from "./helpers/cli.ts";

const tmp = tempDir("dyn");
afterAll(tmp.cleanup);
const corpus = makeCorpus(tmp.dir, 4000);
// the words of the corpus, spelt backwards: characters it knows, in an order it never saw
const pattern = "gnik eht dna neeuq fo llams revir nwot.\n";
const repeated = path.join(tmp.dir, "repeated.txt");
fs.writeFileSync(repeated, pattern.repeat(40));
const run = path.join(tmp.dir, "run");
let vocab: string[];

beforeAll(async () => {
  const c = readCorpus([corpus]);
  vocab = c.vocab;
  const cfg = resolveTrainConfig(
    { model: { cell: "lstm", layers: 1, hidden: 32, embed: 0, vocabSize: vocab.length }, batch: 8, seq: 16, steps: 300, lr: 1e-2, evalEvery: 300, threads: 1, corpus: [corpus] },
    { threads: 1, out: run },
  );
  await train({ cfg, vocab, ids: c.ids, kernels: createWasmKernels(), onEvent: () => {} });
}, 60_000);

const idsOf = (file: string) => {
  const index = new Map(vocab.map((ch, i) => [ch, i]));
  return Int32Array.from([...fs.readFileSync(file, "utf8")], (ch) => index.get(ch)!);
};

describe("evaluateDynamic", () => {
  for (const [name, kernels] of [["wasm", createWasmKernels()], ["ref-f32", refF32]] as const) {
    it(`${name}: the first chunk is scored as the static protocol scores it; a one-chunk text is the static loss`, () => {
      const { model } = loadModel(run, kernels);
      const ids = idsOf(repeated);
      const T = 25;
      const chunks: number[] = [];
      evaluateDynamic(model, ids, { lr: 0.1, decay: 0.01, seq: T }, undefined, (lossSum) => chunks.push(lossSum));
      expect(chunks).toHaveLength(Math.ceil((ids.length - 1) / T));
      expect(chunks[0]).toBe(createEvaluator(model, T)(ids.subarray(0, T + 1)).lossSum);
      const one = ids.subarray(0, T + 1);
      expect(evaluateDynamic(model, one, { lr: 0.1, decay: 0, seq: T })).toEqual(createEvaluator(model, T)(one));
    });
  }

  it("on a repeated pattern the model never saw, the dynamic loss ends far below the static one; the model is left as it was", () => {
    const { model } = loadModel(run, createWasmKernels());
    const before = Float32Array.from(model.params.data);
    const ids = idsOf(repeated);
    const st = createEvaluator(model, 256)(ids);
    const settings = { lr: 0.3, decay: 0.001, seq: 20 };
    const dyn = evaluateDynamic(model, ids, settings);
    expect(dyn.count).toBe(st.count);
    const [s, d] = [st.lossSum / st.count, dyn.lossSum / dyn.count];
    expect(d).toBeLessThan(0.5 * s);
    expect(Array.from(model.params.data)).toEqual(Array.from(before));
    // after all that, the static loss is what it was (the weights and what pack() derives were put back)
    expect(createEvaluator(model, 256)(ids)).toEqual(st);
    expect(evaluateDynamic(model, ids, settings)).toEqual(dyn); // deterministic
  });

  it("with lr so small it cannot move the weights it is the static protocol at that chunk length", () => {
    const { model } = loadModel(run, refF32);
    const ids = idsOf(repeated);
    const T = 40;
    const a = evaluateDynamic(model, ids, { lr: 1e-30, decay: 0, seq: T }), b = createEvaluator(model, T)(ids);
    expect(a).toEqual(b);
  });
});

describe.concurrent("rnn eval --dynamic", () => {
  const files = () => snapshot(run);

  it("human: the static line, then one labelled dynamic with its settings; the checkpoint is not written", async () => {
    const before = files();
    const r = await rnn(["eval", "-m", run, repeated, "--dynamic"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${repeated.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: [\\d.]+ nats/char · [\\d.]+ bits/char · perplexity [\\d.]+ · ${pattern.length * 40 - 1} characters scored$`));
    const D = DYNAMIC_EVAL_DEFAULTS;
    expect(lines[1]).toMatch(new RegExp(`^dynamic \\(lr ${D.dynamicLr}, decay ${D.dynamicDecay}, chunks of ${D.seq}\\): [\\d.]+ nats/char · [\\d.]+ bits/char · perplexity [\\d.]+ · ${pattern.length * 40 - 1} characters scored$`));
    const plain = await rnn(["eval", "-m", run, repeated]);
    expect(plain.stdout).toBe(lines[0] + "\n"); // the static number is the one without --dynamic
    expect(files()).toEqual(before);
  }, 60_000);

  it("--json: the static keys as always, the dynamic numbers under \"dynamic\" with their settings", async () => {
    const r = await rnn(["eval", "-m", run, repeated, "--dynamic", "--dynamic-lr", "0.3", "--dynamic-decay", "0.001", "--seq", "20", "--json"]);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(Object.keys(o)).toEqual(["loss", "bpc", "perplexity", "chars", "skipped", "dynamic"]);
    expect(Object.keys(o.dynamic)).toEqual(["loss", "bpc", "perplexity", "chars", "lr", "decay", "seq"]);
    expect(o.dynamic).toMatchObject({ lr: 0.3, decay: 0.001, seq: 20, chars: o.chars });
    expect(o.dynamic.loss).toBeLessThan(0.5 * o.loss);
    expect(o.dynamic.bpc).toBeCloseTo(o.dynamic.loss / Math.LN2, 12);
    const plain = JSON.parse((await rnn(["eval", "-m", run, repeated, "--json"])).stdout);
    expect(plain).toEqual({ loss: o.loss, bpc: o.bpc, perplexity: o.perplexity, chars: o.chars, skipped: o.skipped });
    const again = await rnn(["eval", "-m", run, repeated, "--dynamic", "--dynamic-lr", "0.3", "--dynamic-decay", "0.001", "--seq", "20", "--json"]);
    expect(again.stdout).toBe(r.stdout);
  }, 60_000);

  it("its settings without --dynamic, or out of range, are refused in one line (exit 2)", async () => {
    const cases: [string[], RegExp][] = [
      [["--seq", "20"], /^rnn: error: --seq sets dynamic evaluation: give --dynamic too/],
      [["--dynamic-lr", "0.1", "--dynamic-decay", "0.1"], /^rnn: error: --dynamic-lr, --dynamic-decay set dynamic evaluation: give --dynamic too/],
      [["--dynamic", "--dynamic-decay", "2"], /^rnn: error: --dynamic-decay must be at most 1, got 2/],
      [["--dynamic", "--dynamic-lr", "0"], /^rnn: error: --dynamic-lr must be greater than 0, got 0/],
    ];
    for (const [flags, re] of cases) {
      const r = await rnn(["eval", "-m", run, repeated, ...flags]);
      expect(r.code, flags.join(" ")).toBe(2);
      expect(errLines(r.stderr)).toHaveLength(1);
      expect(errLines(r.stderr)[0]).toMatch(re);
    }
  }, 60_000);

  it("a --norm batch model is refused in one line (exit 2): its gradient needs a step's statistics over several streams", async () => {
    const bn = path.join(tmp.dir, "bn");
    expect((await rnn(["train", corpus, "--norm", "batch", "--hidden", "8", "--batch", "4", "--seq", "8", "--steps", "2", "--threads", "1", "--out", bn, "-q"])).code).toBe(0);
    const r = await rnn(["eval", "-m", bn, repeated, "--dynamic"]);
    expect(r.code).toBe(2);
    expect(errLines(r.stderr)).toEqual([expect.stringMatching(/^rnn: error: --dynamic adapts the weights on one stream, and --norm batch normalises over 2 or more streams/)]);
    expect((await rnn(["eval", "-m", bn, repeated])).code).toBe(0); // statically it scores as always
  }, 60_000);
});
