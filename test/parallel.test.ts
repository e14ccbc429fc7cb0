// Data-parallel training: --threads 1 and --threads 2 agree on the loss within float rounding, and a given
// thread count is deterministic to the byte.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { resolveTrainConfig } from "../src/config.ts";
import { createWasmKernels } from "../src/kernels/wasm.ts";
import { splitStreams } from "../src/train/parallel.ts";
import { train, type TrainEvent } from "../src/train/train.ts";
import { LATEST } from "../src/run/dir.ts";

const text = fs.readFileSync(path.resolve(__dirname, "../data/longrange.txt"), "utf8").slice(0, 40_000);
const vocab = [...new Set(text)].sort();
const ids = Uint16Array.from([...text], (c) => vocab.indexOf(c));

const base = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-par-"));

/** Trains in a fresh run directory of a fixed name (the path is part of the config, so of the bytes). */
async function run(cell: "lstm" | "gru" | "rnn", threads: number, extra: object = {}) {
  const out = path.join(base, "run");
  fs.rmSync(out, { recursive: true, force: true });
  const cfg = resolveTrainConfig(
    { model: { cell, layers: 2, hidden: 32, vocabSize: vocab.length }, batch: 7, seq: 16, steps: 12, evalEvery: 6, checkpointEvery: 100, threads, corpus: [], ...extra },
    { threads, out },
  );
  const losses: number[] = [];
  await train({ cfg, vocab, ids, kernels: createWasmKernels(), onEvent: (e: TrainEvent) => { if (e.type === "step") losses.push(e.loss); } });
  return { losses, bytes: fs.readFileSync(path.join(out, LATEST)) };
}

describe("splitStreams", () => {
  it("covers B streams in contiguous parts differing by at most one", () => {
    expect(splitStreams(7, 2)).toEqual([{ b0: 0, nb: 4 }, { b0: 4, nb: 3 }]);
    expect(splitStreams(50, 3).map((p) => p.nb)).toEqual([17, 17, 16]);
  });
});

describe("threads 1 vs 2", () => {
  for (const cell of ["lstm", "gru", "rnn"] as const) {
    it(`${cell}: same losses within float rounding`, async () => {
      const a = await run(cell, 1);
      const b = await run(cell, 2);
      expect(a.losses).toHaveLength(12);
      for (let i = 0; i < a.losses.length; i++) expect(Math.abs(a.losses[i] - b.losses[i])).toBeLessThan(1e-4 * a.losses[i]);
    });
  }
  it("two threads are deterministic to the byte, dropout included", async () => {
    const a = await run("lstm", 2, { dropout: 0.2 });
    const b = await run("lstm", 2, { dropout: 0.2 });
    expect(Buffer.compare(a.bytes, b.bytes)).toBe(0);
  });
});
