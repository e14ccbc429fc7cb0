// The regularisers in training, in process (the WebAssembly kernels, as rnn train runs them):
//   - threads: the masks a chunk shares (--weight-drop, --embed-dropout) are drawn by the main thread from the
//     run's generator before the threads start, so 1 and 2 threads train on the same masks and agree within
//     float rounding, as runs without dropout do; the per-stream masks (--dropout in either mode,
//     --dropout-input) come from seeds the main generator hands each thread, as --dropout's always did: the
//     same bytes for a given thread count, but not the same masks for another;
//   - a cosine run stopped at step 20 (as Ctrl-C stops it) and resumed writes the bytes of the run straight
//     through: the horizon is fixed at the start and kept by the resumed run.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveTrainConfig, type TrainConfig } from "../src/config.ts";
import { loadModel, loadRunSettings, resumeConfig } from "../src/checkpoint/checkpoint.ts";
import { createWasmKernels } from "../src/kernels/wasm.ts";
import { train, type TrainEvent } from "../src/train/train.ts";

const text = fs.readFileSync(path.resolve(__dirname, "../data/longrange.txt"), "utf8").slice(0, 40_000);
const vocab = [...new Set(text)].sort();
const ids = Uint16Array.from([...text], (c) => vocab.indexOf(c));
const base = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-regtrain-"));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
let dirs = 0;

const cfgOf = (threads: number, extra: Partial<TrainConfig>) => resolveTrainConfig(
  { model: { cell: "lstm", layers: 2, hidden: 32, embed: 8, vocabSize: vocab.length }, batch: 7, seq: 16, steps: 12, evalEvery: 6, checkpointEvery: 100, threads, corpus: [], ...extra },
  { threads, out: path.join(base, `run${dirs++}`) },
);

async function run(cfg: TrainConfig, o: { stopAt?: number; resume?: boolean } = {}) {
  const losses: number[] = [];
  let steps = 0;
  const onEvent = (e: TrainEvent) => {
    if (e.type === "step") {
      losses.push(e.loss);
      steps++;
    }
  };
  const end = await train({ cfg, vocab, ids, kernels: createWasmKernels(), onEvent, resume: o.resume, shouldStop: () => o.stopAt !== undefined && steps >= o.stopAt });
  return { losses, end, files: snapshotOf(cfg.out) };
}

function snapshotOf(dir: string): Record<string, Buffer> {
  return Object.fromEntries(fs.readdirSync(dir).filter((f) => f.endsWith(".safetensors") || f === "metrics.jsonl").sort().map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

describe("threads 1 vs 2", () => {
  it("--weight-drop and --embed-dropout (masks shared by the chunk): the same losses within float rounding", async () => {
    const extra = { weightDrop: 0.3, embedDropout: 0.2, optimizer: "adamw" as const, weightDecay: 0.01 };
    const a = await run(cfgOf(1, extra)), b = await run(cfgOf(2, extra));
    const none = await run(cfgOf(1, {}));
    expect(a.losses).toHaveLength(12);
    for (let i = 0; i < 12; i++) expect(Math.abs(a.losses[i] - b.losses[i])).toBeLessThan(1e-4 * a.losses[i]);
    // and the masks did something: not the losses of the run without them
    expect(Math.max(...a.losses.map((l, i) => Math.abs(l - none.losses[i])))).toBeGreaterThan(1e-3);
  }, 120_000);

  it("per-stream masks (locked dropout, input dropout): deterministic for a thread count, other masks on another", async () => {
    const extra = { dropout: 0.3, dropoutMode: "locked" as const, dropoutInput: 0.2 };
    const a = await run(cfgOf(2, extra)), b = await run(cfgOf(2, extra)), one = await run(cfgOf(1, extra));
    expect(Buffer.compare(a.files["latest.safetensors"], b.files["latest.safetensors"])).toBe(0);
    expect(a.losses).toEqual(b.losses);
    expect(a.losses[0]).not.toBe(one.losses[0]); // the first step's masks already differ
  }, 120_000);
});

describe("cosine schedule: stopped and resumed = straight", () => {
  for (const threads of [1, 2]) {
    it(`${threads} thread${threads > 1 ? "s" : ""}, every regulariser, adamw`, async () => {
      const extra: Partial<TrainConfig> = {
        steps: 40, warmup: 4, lrSchedule: "cosine", lrMin: 1e-4, evalEvery: 10, checkpointEvery: 10, optimizer: "adamw", weightDecay: 0.01,
        dropout: 0.2, dropoutMode: "locked", dropoutInput: 0.1, weightDrop: 0.3, embedDropout: 0.1,
      };
      const whole = await run(cfgOf(threads, extra));
      const first = cfgOf(threads, extra);
      const half = await run(first, { stopAt: 20 });
      expect(half.end).toMatchObject({ reason: "interrupted", step: 20 });
      // resume as rnn train --resume does: the config from the run's checkpoint and state
      const loaded = loadModel(first.out, createWasmKernels());
      const again = resumeConfig(loaded.meta.config, loadRunSettings(first.out, 20)!.config, first.out);
      expect(again.lrHorizon).toBe(40);
      const rest = await run(again, { resume: true });
      expect(rest.end).toMatchObject({ reason: "steps", step: 40 });
      expect(half.losses.concat(rest.losses)).toEqual(whole.losses);
      expect(Object.keys(rest.files)).toEqual(Object.keys(whole.files));
      for (const f of Object.keys(whole.files)) expect(Buffer.compare(rest.files[f], whole.files[f]), f).toBe(0);
    }, 120_000);
  }
});
