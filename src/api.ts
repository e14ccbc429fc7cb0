// rnn as a library, in Node: `import { loadModel, generate, predict, score, train } from "rnn"`.
//
//   const model = await loadModel("runs/longrange-lstm");        // a run directory, a .safetensors file, or its bytes
//   generate(model, { prime: "The ", length: 200, seed: 7 });   // = rnn sample --prime "The " --length 200 --seed 7
//   predict(model, "ABCABCAB").top[0];                          // = rnn predict --json
//   score(model, "some text").totals.bpc;                       // = rnn score --json
//   await train({ corpus: ["input.txt"], out: "runs/mine", steps: 500 });   // = rnn train
//
// Each is the CLI's own code on the same kernels, so the answers are the CLI's, bit for bit. In a browser
// bundle, package.json's "browser" condition selects src/lib/browser.ts instead: the same functions, with
// loadModel taking the checkpoint's bytes, and no train.
import os from "node:os";
import path from "node:path";
import { configFromSettings, MODEL_DEFAULTS, type TrainSettings } from "./config.ts";
import { loadModel as loadCheckpointFile } from "./checkpoint/checkpoint.ts";
import { readCorpus } from "./corpus/corpus.ts";
import { type KernelChoice, selectKernels } from "./kernels/index.ts";
import { defaultOut, prepareOutDir } from "./run/dir.ts";
import { metricsWriter } from "./train/metrics.ts";
import { train as runTraining, type TrainEvent } from "./train/train.ts";
import { decodeCheckpoint, modelFromCheckpoint } from "./lib/checkpoint-bytes.ts";
import { type RnnModel, wrapModel } from "./lib/core.ts";
import { pooled } from "./lib/pool.ts";

export { generate, generateStream, predict, score } from "./lib/core.ts";
export type {
  Candidate, CharScore, GenerateOptions, GenerateResult, Prediction, PredictOptions, RnnModel, ScoreResult, ScoreTotals,
} from "./lib/core.ts";
export type { TrainEvent } from "./train/train.ts";
export type { TrainConfig, ModelConfig, TrainSettings } from "./config.ts";
export { RnnError, UsageError } from "./errors.ts";

export interface LoadOptions {
  /** "auto" (default: WebAssembly SIMD where this Node runs it), "wasm" or "ref" — as RNN_KERNELS / --kernels */
  kernels?: KernelChoice;
}

/**
 * Loads a model: a run directory (its latest.safetensors), a .safetensors checkpoint file, or the bytes of
 * one. Checked as `rnn sample` checks it (checksum, format, tensors); errors are one-line RnnErrors.
 */
export async function loadModel(source: string | Uint8Array, opts: LoadOptions = {}): Promise<RnnModel> {
  const ops = pooled(await selectKernels(opts.kernels));
  if (typeof source === "string") {
    const { model, meta } = loadCheckpointFile(source, ops);
    return wrapModel(model as RnnModel["net"], meta);
  }
  const { model, meta } = modelFromCheckpoint(decodeCheckpoint(source, "checkpoint bytes"), "checkpoint bytes", ops);
  return wrapModel(model as RnnModel["net"], meta);
}

/** What to train: `rnn train`'s settings as fields (hidden, layers, cell, lr, steps…), the corpus and the run directory. */
export interface TrainOptions extends Partial<TrainSettings> {
  /** UTF-8 text files, concatenated */
  corpus: string[];
  /** the run directory (default runs/<corpus>-<cell>, as rnn train) */
  out?: string;
  /** overwrite a run already in `out` */
  force?: boolean;
  /** every training event (start, step, eval, checkpoint, end), as `rnn train --json` prints them */
  onEvent?: (e: TrainEvent) => void;
  /** stops training after the current step (the run is saved and can be resumed with rnn train --resume) */
  signal?: AbortSignal;
  kernels?: KernelChoice;
}

/**
 * Trains a new run exactly as `rnn train` does (same config, checkpoints, metrics.jsonl), without printing.
 * Resolves with the end event; the model is then `await loadModel(end.out)`.
 */
export async function train(opts: TrainOptions): Promise<TrainEvent & { type: "end" }> {
  const { corpus, out, force, onEvent, signal, kernels, ...settings } = opts;
  const cfg = configFromSettings(settings, corpus.map((p) => path.resolve(p)), {
    threads: os.availableParallelism?.() ?? os.cpus().length,
    out: out ?? defaultOut(corpus[0] ?? "run", settings.cell ?? MODEL_DEFAULTS.cell),
  });
  prepareOutDir(cfg.out, !!force);
  const text = readCorpus(cfg.corpus);
  cfg.model.vocabSize = text.vocab.length;
  const metrics = metricsWriter(cfg.out);
  return runTraining({
    cfg, vocab: text.vocab, ids: text.ids, kernels: await selectKernels(kernels),
    onEvent: (e) => { metrics(e); onEvent?.(e); },
    shouldStop: () => !!signal?.aborted,
  });
}
