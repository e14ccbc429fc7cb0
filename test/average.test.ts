// --ema (src/train/average.ts): the weights' exponential moving average is the model a run saves, validates and
// samples, while the raw weights train on exactly as without it.
//   - the update and its warm-up against the rule written out naively in double;
//   - in training (the WebAssembly kernels, 2 threads): the saved model is that average of the weights after
//     every step; the raw weights in the training state are bit for bit those of the same run without --ema;
//     the validation loss reported is the saved model's on the held-out split;
//   - stopped and resumed = straight through, byte for byte (the state carries the raw weights);
//   - the config: stored when on, absent when off, refused with --ortho-opt.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveTrainConfig, type TrainConfig } from "../src/config.ts";
import { decodeState, loadModel, loadRunSettings, resumeConfig } from "../src/checkpoint/checkpoint.ts";
import { splitTrainVal } from "../src/corpus/batches.ts";
import { createEvaluator } from "../src/eval/evaluate.ts";
import { createWasmKernels } from "../src/kernels/wasm.ts";
import { STATE } from "../src/run/dir.ts";
import { createAverage, emaDecay, emaUpdate, inAverage } from "../src/train/average.ts";
import { train, type TrainEvent } from "../src/train/train.ts";

const text = fs.readFileSync(path.resolve(__dirname, "../data/longrange.txt"), "utf8").slice(0, 40_000);
const vocab = [...new Set(text)].sort();
const ids = Uint16Array.from([...text], (c) => vocab.indexOf(c));
const base = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-ema-"));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
let dirs = 0;

const cfgOf = (extra: Partial<TrainConfig>, threads = 2) => resolveTrainConfig(
  { model: { cell: "lstm", layers: 2, hidden: 32, embed: 8, vocabSize: vocab.length }, batch: 7, seq: 16, steps: 30, evalEvery: 10, checkpointEvery: 10, valFrac: 0.1, threads, corpus: [], lr: 1e-2, ...extra },
  { threads, out: path.join(base, `run${dirs++}`) },
);

/** A run; `average`: the rule of src/train/average.ts written out in double from the weights after every step. */
async function run(cfg: TrainConfig, o: { stopAt?: number; resume?: boolean } = {}) {
  let steps = 0, average: Float64Array | null = null;
  const evals: number[] = [];
  const onEvent = (e: TrainEvent, model: { params: { data: ArrayLike<number> } }) => {
    const w = model.params.data;
    if (e.type === "start") average = Float64Array.from(w);
    if (e.type === "step") {
      steps++;
      const d = Math.min(cfg.ema ?? 0, (1 + e.step) / (10 + e.step));
      for (let i = 0; i < w.length; i++) average![i] = d * average![i] + (1 - d) * w[i];
    }
    if (e.type === "eval" && e.valLoss !== null) evals.push(e.valLoss);
  };
  const end = await train({ cfg, vocab, ids, kernels: createWasmKernels(), onEvent, resume: o.resume, shouldStop: () => o.stopAt !== undefined && steps >= o.stopAt });
  const files = Object.fromEntries(fs.readdirSync(cfg.out).filter((f) => f.endsWith(".safetensors") || f === "metrics.jsonl").sort().map((f) => [f, fs.readFileSync(path.join(cfg.out, f))]));
  return { end, evals, average: average!, files };
}

const savedWeights = (dir: string) => loadModel(dir, createWasmKernels()).model.params.data;
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe("the update", () => {
  it("avg ← avg + (1 − d)(w − avg), with d = min(D, (1 + n)/(10 + n))", () => {
    expect(emaDecay(0.999, 1)).toBeCloseTo(2 / 11, 15);
    expect(emaDecay(0.999, 90)).toBeCloseTo(91 / 100, 15);
    expect(emaDecay(0.9, 1000)).toBe(0.9);
    const avg = Float32Array.from([0, 1, -2, 4]), w = Float32Array.from([1, 1, 2, -4]);
    emaUpdate(avg, w, 0.75);
    expect([...avg]).toEqual([0.25, 1, -1, 2]);
  });

  it("inAverage puts the average in the weights' place and the weights back (packing both times), also when fn throws", () => {
    const params = Float32Array.from([1, 2, 3]), model = { params: { data: params } } as Parameters<typeof inAverage>[1];
    const refreshed: number[][] = [];
    const refresh = () => refreshed.push([...params]); // pack(): what is derived from the weights follows them
    const a = createAverage(0.9, params);
    a.avg.set([7, 8, 9]);
    expect(inAverage(a, model, (raw) => [[...params], [...raw!]], refresh)).toEqual([[7, 8, 9], [1, 2, 3]]);
    expect([...params]).toEqual([1, 2, 3]);
    expect(refreshed).toEqual([[7, 8, 9], [1, 2, 3]]);
    expect(() => inAverage(a, model, () => { throw new Error("x"); }, refresh)).toThrow("x");
    expect([...params]).toEqual([1, 2, 3]);
    expect(refreshed.at(-1)).toEqual([1, 2, 3]);
    expect(inAverage(null, model, (raw) => raw, refresh)).toBeNull();
    expect(refreshed).toHaveLength(4);
  });
});

describe("in training", () => {
  it("the saved model is the average; the raw weights train as without --ema; validation scores the average", async () => {
    const ema = await run(cfgOf({ ema: 0.9 }));
    const plain = await run(cfgOf({}));
    const saved = savedWeights(ema.end.out);
    expect(maxDiff(saved, ema.average)).toBeLessThan(1e-5);
    // the raw weights: in the state, bit for bit the run without --ema (averaging never feeds back)
    const state = decodeState(fs.readFileSync(path.join(ema.end.out, STATE)), STATE);
    const raw = savedWeights(plain.end.out);
    expect(state.params).toBeTruthy();
    expect(Buffer.compare(Buffer.from(state.params!.buffer, state.params!.byteOffset, state.params!.byteLength), Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength))).toBe(0);
    // and the average is not the raw weights
    expect(maxDiff(saved, raw)).toBeGreaterThan(1e-3);
    expect(decodeState(fs.readFileSync(path.join(plain.end.out, STATE)), STATE).params).toBeNull();
    // the validation loss reported at the end is the saved model's on the held-out split
    const { model } = loadModel(ema.end.out, createWasmKernels());
    const r = createEvaluator(model, 256)(splitTrainVal(ids, 0.1).val);
    expect(ema.end.valLoss).toBeCloseTo(r.lossSum / r.count, 9);
    // the losses training reports (the raw weights') are the plain run's: the evaluations differ
    expect(ema.evals).toHaveLength(plain.evals.length);
    expect(ema.evals).not.toEqual(plain.evals);
  }, 120_000);

  it("stopped and resumed writes the bytes of the run straight through", async () => {
    const extra: Partial<TrainConfig> = { ema: 0.95, dropout: 0.2, optimizer: "adamw", weightDecay: 0.01 };
    const whole = await run(cfgOf(extra));
    const first = cfgOf(extra);
    const half = await run(first, { stopAt: 13 });
    expect(half.end).toMatchObject({ reason: "interrupted", step: 13 });
    const loaded = loadModel(first.out, createWasmKernels());
    expect(loaded.meta.config.ema).toBe(0.95);
    const again = resumeConfig(loaded.meta.config, loadRunSettings(first.out, 13)!.config, first.out);
    const rest = await run(again, { resume: true });
    expect(rest.end).toMatchObject({ reason: "steps", step: 30 });
    expect(Object.keys(rest.files)).toEqual(Object.keys(whole.files));
    for (const f of Object.keys(whole.files)) expect(Buffer.compare(rest.files[f], whole.files[f]), f).toBe(0);
  }, 120_000);
});

describe("the config", () => {
  const out = { threads: 1, out: "x" };
  const model = { vocabSize: 5 };
  it("stored when on, absent when 0", () => {
    expect(resolveTrainConfig({ model, ema: 0.999 }, out).ema).toBe(0.999);
    expect("ema" in resolveTrainConfig({ model, ema: 0 }, out)).toBe(false);
    expect("ema" in resolveTrainConfig({ model }, out)).toBe(false);
  });
  it("refused with --ortho-opt cayley, in one line naming both", () => {
    expect(() => resolveTrainConfig({ model, ema: 0.99, orthoOpt: "cayley" }, out)).toThrow(/--ema 0\.99 and --ortho-opt cayley contradict/);
  });
});

describe("scripts/raw-weights.ts", () => {
  it("writes the raw weights of an --ema run as a model file; refuses a run without --ema", async () => {
    const { execFileSync, spawnSync } = await import("node:child_process");
    const ema = await run(cfgOf({ ema: 0.9, steps: 8 }, 1));
    const plain = await run(cfgOf({ steps: 8 }, 1));
    const script = path.resolve(__dirname, "../scripts/raw-weights.ts"), tsx = path.resolve(__dirname, "../node_modules/.bin/tsx");
    const out = path.join(base, "raw.safetensors");
    execFileSync(tsx, [script, ema.end.out, out], { encoding: "utf8" });
    const state = decodeState(fs.readFileSync(path.join(ema.end.out, STATE)), STATE);
    expect([...savedWeights(out)]).toEqual([...state.params!]);
    expect([...savedWeights(out)]).toEqual([...savedWeights(plain.end.out)]); // the raw weights: the run without --ema
    const refused = spawnSync(tsx, [script, plain.end.out, path.join(base, "none.safetensors")], { encoding: "utf8" });
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim()).toBe(`raw-weights: ${plain.end.out} was not trained with --ema: its latest.safetensors holds the raw weights already`);
  }, 120_000);
});
