// The library's questions to a loaded model — generate, predict, score — shared by the Node entry (src/api.ts)
// and the browser entry (./browser.ts). Each is the CLI's own code: generate is `rnn sample`'s sampleSteps,
// predict is `rnn predict`'s predictNext, score is `rnn score`'s scoreText; the same model, flags and seed give
// the same characters and numbers. Nothing here reads files or touches Node.
import type { CheckpointConfig } from "../checkpoint/checkpoint.ts";
import { SAMPLE_DEFAULTS, type SampleConfig } from "../config.ts";
import type { Model } from "../model/model.ts";
import { predictNext, type Prediction, type PredictOptions } from "../ask/predict.ts";
import { scoreText, type ScoreResult } from "../ask/score.ts";
import { type SampleResult, sampleSteps } from "../sample/sample.ts";
import { type CheckpointMeta, describeModel } from "./checkpoint-bytes.ts";
import type { PooledKernels } from "./pool.ts";

export type { Prediction, PredictOptions, ScoreResult, SampleResult };
export type { CharScore, ScoreTotals } from "../ask/score.ts";
export type { Candidate } from "../ask/predict.ts";

/** A trained model, ready to answer. Made by loadModel(). */
export interface RnnModel {
  /** the vocabulary: one code point per entry, in id order */
  readonly vocab: readonly string[];
  /** the training configuration stored in the checkpoint (config.model: cell, layers, hidden…) */
  readonly config: CheckpointConfig;
  /** optimizer steps the checkpoint was trained for */
  readonly step: number;
  /** best validation loss of its run (nats/char), null when none was measured */
  readonly bestValLoss: number | null;
  /** "lstm 2×128, one-hot, V=65" */
  readonly description: string;
  /** the kernels it runs on: "wasm-relaxed-simd", "wasm-simd" or "ref-f32" */
  readonly kernels: string;
  /** @internal the network and its recycling kernels */
  readonly net: Model & { ops: PooledKernels };
}

/** What to generate; every field defaults as in `rnn sample` (src/config.ts SAMPLE_DEFAULTS). */
export interface GenerateOptions {
  /** characters to generate after the prime (default 1000) */
  length?: number;
  /** softmax temperature > 0 (default 1) */
  temperature?: number;
  /** text fed first and echoed at the start of the result; characters outside the vocabulary are refused */
  prime?: string;
  /** sampling seed (default 42): the same seed and options give the same text as `rnn sample --seed` */
  seed?: number;
  /** sample among the k most likely characters; 0 = all (default) */
  topK?: number;
  /** nucleus sampling: the most likely characters until their mass reaches p; 0 or 1 = off (default) */
  topP?: number;
  /** always take the most likely character */
  argmax?: boolean;
}

/** The end of a generation: its text (prime included) and the log-probabilities of what was generated. */
export type GenerateResult = SampleResult;

export function wrapModel(net: Model & { ops: PooledKernels }, meta: CheckpointMeta): RnnModel {
  return {
    vocab: meta.vocab, config: meta.config, step: meta.step, bestValLoss: meta.bestValLoss,
    description: describeModel(meta.config.model), kernels: net.ops.name, net,
  };
}

function sampleConfig(opts: GenerateOptions): SampleConfig {
  const d = SAMPLE_DEFAULTS;
  return {
    length: opts.length ?? d.length, temperature: opts.temperature ?? d.temperature, prime: opts.prime ?? d.prime,
    seed: opts.seed ?? d.seed, argmax: opts.argmax ?? d.argmax, topK: opts.topK ?? d.topK, topP: opts.topP ?? d.topP, count: 1,
  };
}

/**
 * Generates text: the prime, then `length` sampled characters. The same as
 * `rnn sample --model RUN --prime P --length N --seed S ...` prints (without its final newline).
 */
export function generate(model: RnnModel, opts: GenerateOptions = {}): string {
  let text = "";
  const it = generateStream(model, opts);
  for (let r = it.next(); !r.done; r = it.next()) text += r.value;
  return text;
}

/**
 * generate(), one character at a time: an iterator of the characters (the prime's first), which returns
 * the GenerateResult when it is done. Stop early with `return()` (or `break` out of a for…of).
 */
export function* generateStream(model: RnnModel, opts: GenerateOptions = {}): Generator<string, GenerateResult, void> {
  const ops = model.net.ops, scope = ops.openScope();
  const steps = sampleSteps(model.net, model.vocab as string[], sampleConfig(opts));
  try {
    for (;;) {
      const r = ops.within(() => steps.next(), scope);
      if (r.done) return r.value[0];
      yield r.value[1];
    }
  } finally {
    ops.close(scope);
  }
}

/**
 * The next-character distribution after `text`: the `topK` most likely characters (default 10, 0 = all) with
 * their probabilities, the rest's mass, the entropy. What `rnn predict --json` prints.
 */
export function predict(model: RnnModel, text: string, opts: PredictOptions = {}): Prediction {
  return model.net.ops.within(() => predictNext(model.net, model.vocab as string[], text, opts));
}

/** The surprisal of every character of `text` (nats) and the totals (loss, bits per character, perplexity): `rnn score --json`. */
export function score(model: RnnModel, text: string): ScoreResult {
  return model.net.ops.within(() => scoreText(model.net, model.vocab as string[], text));
}
