// Does it learn? Loss at initialisation is ≈ ln V (a uniform guess), and a short text is memorised.
import { describe, expect, it } from "vitest";
import type { TrainConfig } from "../src/config.ts";
import { resolveTrainConfig } from "../src/config.ts";
import { refF32 } from "../src/kernels/ref.ts";
import { initParams } from "../src/model/init.ts";
import { createModel, createState, createWorkspace, forward } from "../src/model/model.ts";
import { makeRng } from "../src/rng.ts";
import { sample } from "../src/sample/sample.ts";
import { train, type TrainEvent } from "../src/train/train.ts";
import { loadModel } from "../src/checkpoint/checkpoint.ts";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

describe("loss at initialisation", () => {
  for (const cell of ["rnn", "lstm", "gru"] as const) {
    it(`${cell}: ≈ ln V with PyTorch's init`, () => {
      const V = 65;
      const m = createModel({ cell, layers: 2, hidden: 128, embed: 0, activation: "tanh", residual: false, vocabSize: V }, refF32);
      const rng = makeRng(1);
      initParams(m, { init: "pytorch", forgetBias: null }, rng);
      const ws = createWorkspace(m, 8, 16, { grad: false });
      for (let i = 0; i < ws.idx.length; i++) {
        ws.idx[i] = rng.int(V);
        ws.targets[i] = rng.int(V);
      }
      const r = forward(m, ws, createState(m, 8), { grad: false });
      expect(Math.abs(r.lossSum / r.count - Math.log(V))).toBeLessThan(0.05);
    });
  }
});

describe("memorising a short text", () => {
  const text = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n";
  for (const cell of ["lstm", "gru", "rnn"] as const) {
    it(`${cell} reaches loss < 0.05 and reproduces it by argmax sampling`, async () => {
      const vocab = [...new Set(text)].sort();
      const ids = Uint16Array.from(text, (c) => vocab.indexOf(c));
      const out = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-mem-"));
      const cfg: TrainConfig = resolveTrainConfig(
        { model: { cell, layers: 1, hidden: 64, vocabSize: vocab.length }, batch: 1, seq: 21, valFrac: 0, lr: 1e-2, steps: 400, evalEvery: 1000, checkpointEvery: 1000, corpus: [] },
        { threads: 1, out },
      );
      const events: TrainEvent[] = [];
      const end = await train({ cfg, vocab, ids, kernels: refF32, onEvent: (e) => events.push(e) });
      expect(end.trainLoss).toBeLessThan(0.05);
      expect(events.filter((e) => e.type === "step")).toHaveLength(400);
      // the saved model, sampled greedily from the first word, writes the rest of the text
      const { model, meta } = loadModel(out, refF32);
      const prime = "the quick";
      const [s] = sample(model, meta.vocab, { length: text.length - prime.length - 1, temperature: 1, prime, seed: 1, argmax: true, topK: 0, count: 1 }, () => {});
      expect(s).toBe(text.slice(0, -1));
    });
  }
});
