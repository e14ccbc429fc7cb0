// --calibrate F (src/eval/calibrate.ts): the corpus's first ⌊F·n⌋ characters are held out from training, and the
// model a run saves at its end has its softmax temperature fitted on them.
//   - the fit: L(β), L'(β), L''(β) against the loss written out naively and its finite differences (double);
//     β recovered from data drawn at a known temperature; no point of a fine grid scores lower;
//   - in training (the WebAssembly kernels, 2 threads, --ema): the characters held out are never trained on (the
//     raw weights and optimizer state are bit for bit those of a run on the text without them); the saved
//     decoder is the trained one scaled by β, and its loss on the held-out text is the one reported;
//   - a calibrated run resumed for more steps = straight through, byte for byte (the state keeps the decoder
//     as it trained); a run stopped and resumed mid-way, likewise;
//   - the config: stored when on, absent when off; the splits' refusals; the metadata and `rnn info`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveTrainConfig, type TrainConfig } from "../src/config.ts";
import { decodeState, loadModel } from "../src/checkpoint/checkpoint.ts";
import { createEvaluator } from "../src/eval/evaluate.ts";
import { fitBeta, temperatureLoss } from "../src/eval/calibrate.ts";
import { refF64 } from "../src/kernels/ref.ts";
import { createWasmKernels } from "../src/kernels/wasm.ts";
import { tensorNames } from "../src/model/params.ts";
import { makeRng } from "../src/rng.ts";
import { STATE } from "../src/run/dir.ts";
import { runInfo } from "../src/ask/info.ts";
import { train, type TrainEvent } from "../src/train/train.ts";

const text = fs.readFileSync(path.resolve(__dirname, "../data/longrange.txt"), "utf8").slice(0, 30_000);
const vocab = [...new Set(text)].sort();
const ids = Uint16Array.from([...text], (c) => vocab.indexOf(c));
const base = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-calib-"));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
let dirs = 0;

const cfgOf = (extra: Partial<TrainConfig>) => resolveTrainConfig(
  { model: { cell: "lstm", layers: 2, hidden: 24, embed: 0, vocabSize: vocab.length }, batch: 6, seq: 16, steps: 30, evalEvery: 10, checkpointEvery: 10, valFrac: 0, threads: 2, corpus: [], lr: 2e-2, dropout: 0.3, ema: 0.9, ...extra },
  { threads: 2, out: path.join(base, `run${dirs++}`) },
);

async function run(cfg: TrainConfig, o: { ids?: Uint16Array; stopAt?: number; resume?: boolean } = {}) {
  let steps = 0;
  const calibrations: (TrainEvent & { type: "calibrate" })[] = [];
  const onEvent = (e: TrainEvent) => {
    if (e.type === "step") steps++;
    if (e.type === "calibrate") calibrations.push(e);
  };
  await train({ cfg, vocab, ids: o.ids ?? ids, kernels: createWasmKernels(), onEvent, resume: o.resume, shouldStop: () => o.stopAt !== undefined && steps >= o.stopAt });
  const files = Object.fromEntries(fs.readdirSync(cfg.out).filter((f) => f.endsWith(".safetensors")).sort().map((f) => [f, fs.readFileSync(path.join(cfg.out, f))]));
  return { calibrations, files };
}

/** logits [n × V] drawn at random and targets drawn from softmax(βtrue · z) */
function synthetic(n: number, V: number, betaTrue: number, seed = 1) {
  const rng = makeRng(seed);
  const logits = new Float32Array(n * V), targets = new Int32Array(n), p = new Float64Array(V);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let v = 0; v < V; v++) {
      logits[i * V + v] = 3 * (rng.next() - 0.5) + (v === i % V ? 2 : 0);
      sum += p[v] = Math.exp(betaTrue * logits[i * V + v]);
    }
    let u = rng.next() * sum, t = 0;
    while (t < V - 1 && (u -= p[t]) > 0) t++;
    targets[i] = t;
  }
  return { logits, targets };
}

/** the mean cross-entropy of softmax(β·z) written out naively, in double */
function naiveLoss(logits: Float32Array, targets: Int32Array, V: number, beta: number): number {
  let loss = 0;
  for (let i = 0; i < targets.length; i++) {
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(beta * logits[i * V + v]);
    loss -= Math.log(Math.exp(beta * logits[i * V + targets[i]]) / sum);
  }
  return loss / targets.length;
}

describe("the fit", () => {
  const V = 7;
  const { logits, targets } = synthetic(20_000, V, 0.6);

  it("L(β) is the mean cross-entropy of softmax(β·z); L' and L'' are its derivatives (central differences, double)", () => {
    for (const beta of [0.3, 0.6, 1, 1.7]) {
      const at = temperatureLoss(logits, targets, V, beta);
      expect(at.loss).toBeCloseTo(naiveLoss(logits, targets, V, beta), 10);
      const h = 1e-4;
      const up = temperatureLoss(logits, targets, V, beta + h), down = temperatureLoss(logits, targets, V, beta - h);
      expect(at.grad).toBeCloseTo((up.loss - down.loss) / (2 * h), 6);
      expect(at.curv).toBeCloseTo((up.grad - down.grad) / (2 * h), 5);
      expect(at.curv).toBeGreaterThan(0);
    }
  });

  it("recovers the temperature the targets were drawn at, and no point of a fine grid scores lower", () => {
    const { beta, lossBefore, lossAfter } = fitBeta(logits, targets, V);
    expect(beta).toBeGreaterThan(0.55);
    expect(beta).toBeLessThan(0.65);
    expect(lossBefore).toBeCloseTo(naiveLoss(logits, targets, V, 1), 10);
    expect(lossAfter).toBeLessThan(lossBefore);
    expect(Math.abs(temperatureLoss(logits, targets, V, beta).grad)).toBeLessThan(1e-9);
    for (let b = 0.2; b <= 2; b += 0.01) expect(naiveLoss(logits, targets, V, b)).toBeGreaterThanOrEqual(lossAfter - 1e-12);
  });

  it("a model already calibrated keeps β near 1; a sharper one is softened (β < 1), a flatter one sharpened (β > 1)", () => {
    const calibrated = synthetic(20_000, V, 1, 2);
    expect(Math.abs(fitBeta(calibrated.logits, calibrated.targets, V).beta - 1)).toBeLessThan(0.05);
    const sharp = calibrated.logits.map((z) => 2 * z), flat = calibrated.logits.map((z) => z / 2);
    expect(fitBeta(sharp, calibrated.targets, V).beta).toBeCloseTo(0.5 * fitBeta(calibrated.logits, calibrated.targets, V).beta, 5);
    expect(fitBeta(flat, calibrated.targets, V).beta).toBeGreaterThan(1.5);
  });

  it("logits that are all equal (no information) leave β at 1", () => {
    const { beta, lossBefore, lossAfter } = fitBeta(new Float32Array(10 * V).fill(0.5), new Int32Array(10).fill(3), V);
    expect(beta).toBe(1);
    expect(lossAfter).toBe(lossBefore);
  });
});

describe("in training", () => {
  const calibLen = Math.floor(ids.length * 0.1);

  it("the held-out start is never trained on; the saved decoder is the trained one × β; its loss there is the one reported", async () => {
    const held = cfgOf({ calibrate: 0.1 });
    const { calibrations } = await run(held);
    const without = cfgOf({});
    await run(without, { ids: ids.subarray(calibLen) });
    // the training state (raw weights, optimizer, carried state) is the same bytes as a run on the rest of the text
    const sa = decodeState(fs.readFileSync(path.join(held.out, STATE)), "a"), sb = decodeState(fs.readFileSync(path.join(without.out, STATE)), "b");
    expect(Buffer.from(sa.params!.buffer)).toEqual(Buffer.from(sb.params!.buffer));
    expect(Buffer.from(sa.optimizer.buffer)).toEqual(Buffer.from(sb.optimizer.buffer));
    expect(sb.decoder).toBeNull();
    // one fit, at the end, on the held-out characters
    expect(calibrations).toHaveLength(1);
    const k = calibrations[0];
    expect(k.step).toBe(30);
    expect(k.chars).toBe(calibLen - 1);
    // the model files: the same but for the decoder, which is the trained one (kept in the state) scaled by β
    const ma = loadModel(held.out, refF64), mb = loadModel(without.out, refF64);
    const beta = 1 / k.temperature;
    for (const t of ma.model.params.spec.tensors) {
      const a = ma.model.params.views[t.name], b = mb.model.params.views[t.name];
      if (t.name === tensorNames.decoderWeight || t.name === tensorNames.decoderBias) {
        const off = t.name === tensorNames.decoderWeight ? 0 : ma.model.params.views[tensorNames.decoderWeight].length;
        for (let i = 0; i < a.length; i++) expect(a[i]).toBe(Math.fround(sa.decoder![off + i] * beta));
        for (let i = 0; i < a.length; i++) expect(b[i]).toBe(sa.decoder![off + i]);
      } else expect([...a], t.name).toEqual([...b]);
    }
    expect(ma.meta.calibration).toEqual({ temperature: k.temperature, chars: k.chars, lossBefore: k.lossBefore, lossAfter: k.lossAfter });
    expect(mb.meta.calibration).toBeUndefined();
    // the saved model's loss on the held-out start is the fit's, and the uncalibrated one's is lossBefore
    const score = (m: typeof ma) => { const r = createEvaluator(m.model)(ids.subarray(0, calibLen)); return r.lossSum / r.count; };
    expect(score(ma)).toBeCloseTo(k.lossAfter, 5);
    expect(score(mb)).toBeCloseTo(k.lossBefore, 5);
    expect(k.lossAfter).toBeLessThanOrEqual(k.lossBefore);
  }, 60_000);

  it("resumed for more steps = straight through, byte for byte; stopped mid-way and resumed, likewise", async () => {
    const straight = cfgOf({ calibrate: 0.1, steps: 40 });
    const a = await run(straight);
    const first = cfgOf({ calibrate: 0.1, steps: 30 });
    await run(first);
    const more = await run({ ...first, steps: 40 }, { resume: true });
    expect(more.files).toEqual(a.files);
    const stopped = cfgOf({ calibrate: 0.1, steps: 40 });
    await run(stopped, { stopAt: 17 });
    const rest = await run(stopped, { resume: true });
    expect(rest.files).toEqual(a.files);
    expect(rest.calibrations).toHaveLength(1);
  }, 60_000);

  it("rnn info shows the temperature of a calibrated model", async () => {
    const cfg = cfgOf({ calibrate: 0.1, steps: 12 });
    const { calibrations } = await run(cfg);
    const info = runInfo(cfg.out);
    expect(info.calibration).toEqual({ temperature: calibrations[0].temperature, chars: calibrations[0].chars, lossBefore: calibrations[0].lossBefore, lossAfter: calibrations[0].lossAfter });
  }, 60_000);
});

describe("the config", () => {
  it("stored when on, absent when off (0 and absent are the same bytes)", () => {
    expect(cfgOf({ calibrate: 0.02 }).calibrate).toBe(0.02);
    expect(cfgOf({ calibrate: 0 })).not.toHaveProperty("calibrate");
    expect(cfgOf({})).not.toHaveProperty("calibrate");
  });

  it("refused in one line where the splits leave nothing to train on or too little to fit", async () => {
    expect(() => cfgOf({ calibrate: 0.6, valFrac: 0.4 })).toThrow(/--calibrate 0.6 and --val-frac 0.4 together hold out the whole corpus/);
    await expect(run(cfgOf({ calibrate: 1e-6 }))).rejects.toThrow(/--calibrate 0.000001 holds out 0 of 30000 characters|--calibrate 1e-6 holds out 0 of 30000 characters/);
    await expect(run(cfgOf({ calibrate: 0.999 }))).rejects.toThrow(/leave \d+ of 30000 characters to train on/);
  });
});
