// Checkpoint files: the model (PyTorch CharRNN state_dict names, F32, plus __metadata__ {format_version, config,
// vocab, step, best_val_loss, checksum}) and the training state resume needs (optimizer slab, carried hidden
// state, with --ema the raw weights whose average the model file holds, and in its metadata the step, epoch, chunk, RNG state, counters, and the run's config). Which files a
// run directory holds is src/run/dir.ts's business.
//
// What config goes where, so that "same seed, same bytes" and "split + resume = straight run" hold for every
// file, in any directory: a model checkpoint's config is the model config and the training hyper-parameters
// (threads included: the thread count fixes the order in which gradients are summed, so it is part of what
// reproduces the weights), without what belongs to one run directory or one invocation (RUN_ONLY: the output
// path and the budget). The training state holds the run's whole effective config but its path: a resumed run
// continues in the directory it is resumed in, and its budget comes from there (resumeConfig). Checkpoints of
// an older rnn hold the whole config, path and budget included; they load and resume as before.
//
// Every file is written atomically (temp file, fsync, rename, fsync dir). The state file of step S is first
// written as next.state.safetensors, then the model (the commit point), then renamed to latest.state: a
// crash at any moment leaves a model whose step matches either latest.state or next.state.
import fs from "node:fs";
import path from "node:path";
import type { Calibration } from "../eval/calibrate.ts";
import { DEFAULT_STEPS, MODEL_DEFAULTS, resolveTrainConfig, TRAIN_EXTRA_DEFAULTS, type TrainConfig } from "../config.ts";
import { type CorpusFingerprint, encodeFingerprint, parseFingerprint } from "../corpus/fingerprint.ts";
import { RnnError, UsageError } from "../errors.ts";
import { describeFsError, writeFileAtomic } from "../io/atomic.ts";
import { requireRegularFile } from "../io/paths.ts";
import { checkFormatVersion, decodeSafetensors, encodeSafetensors, FORMAT_VERSION, readCheckpointFile, readHeaderMetadata, type TensorIn } from "../io/safetensors.ts";
import type { Kernels } from "../kernels/types.ts";
import { isOutOfMemory, modelTooLarge } from "../model/memory.ts";
import { createModel, type Model } from "../model/model.ts";
import type { Slab } from "../model/params.ts";
import { BEST, LATEST, NEXT_STATE, STATE } from "../run/dir.ts";
import { describeModel, setWeights } from "../model/weights.ts";
import { validateCheckpoint } from "./validate.ts";

export { describeModel } from "../model/weights.ts";

/** The fields of a run's config that belong to its directory and its budget, not to the model it trains. */
export const RUN_ONLY = ["out", "steps", "epochs", "time"] as const;
type RunOnly = (typeof RUN_ONLY)[number];
/** The config in a model checkpoint: without RUN_ONLY's fields (which a checkpoint of an older rnn may hold). */
export type CheckpointConfig = Omit<TrainConfig, RunOnly> & Partial<Pick<TrainConfig, RunOnly>>;
/** The config in the training state: the run's whole effective config but its path. */
export type StateConfig = Omit<TrainConfig, "out">;

/** `o` without `keys` (the other keys in their order). */
function without<T extends object, K extends string>(o: T, keys: readonly K[]): Omit<T, K> {
  const r: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!(keys as readonly string[]).includes(k)) r[k] = v;
  return r as Omit<T, K>;
}

/** The order of a config's keys as a new run makes them (the defaults' order), and of its model's. */
const CONFIG_ORDER = [...Object.keys(resolveTrainConfig({}, { threads: 1, out: "" })), ...Object.keys(TRAIN_EXTRA_DEFAULTS), "lrHorizon", "lrBends"];
const MODEL_ORDER = [...Object.keys(MODEL_DEFAULTS), "vocabSize", "forgetGate", "norm"];

function ordered(o: object, order: readonly string[]): Record<string, unknown> {
  const src = o as Record<string, unknown>, r: Record<string, unknown> = {};
  for (const k of order) if (k in src) r[k] = src[k];
  for (const k of Object.keys(src)) if (!(k in r)) r[k] = src[k];
  return r;
}

/**
 * A config as stored: without `drop`, its keys in one fixed order whatever built it (a new run, a resume, a
 * config file), so that the same settings are always the same bytes.
 */
function storedConfig(cfg: object, drop: readonly string[]): string {
  const c = ordered(without(cfg, drop), CONFIG_ORDER);
  if (c.model && typeof c.model === "object") c.model = ordered(c.model, MODEL_ORDER);
  return JSON.stringify(c);
}

/**
 * The config of a run being resumed in `dir`: the model checkpoint's (checked by validateCheckpoint), with the
 * budget from the run's training state (a checkpoint of an older rnn holds it itself); its path is `dir`.
 */
export function resumeConfig(model: CheckpointConfig, state: StateConfig | null, dir: string): TrainConfig {
  const count = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  const seconds = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;
  const budget = state && count(state.steps) && count(state.epochs) && seconds(state.time) ? state : model;
  const cfg: TrainConfig = { ...model, steps: budget.steps ?? 0, epochs: budget.epochs ?? 0, time: budget.time ?? 0, out: dir };
  if (cfg.steps === 0 && cfg.epochs === 0 && cfg.time === 0) cfg.steps = DEFAULT_STEPS; // as a new run without a budget
  return cfg;
}

export interface ModelMeta {
  config: CheckpointConfig;
  vocab: string[];
  step: number;
  bestValLoss: number | null;
  /** --calibrate: the temperature fitted at the end of the run (already applied to the decoder's weights) */
  calibration?: Calibration;
}

function tensorsOf<Name extends string>(slab: Slab<Name>) {
  return slab.spec.tensors.map((t) => ({ name: t.name, shape: t.shape, data: slab.views[t.name] }));
}

export function encodeModel(model: Model, meta: ModelMeta): Buffer {
  // the parameters, then batch norm's running statistics (none without)
  return encodeModelFile([...tensorsOf(model.params), ...tensorsOf(model.stats)], meta);
}

/** A model file of these tensors (rnn's names and order) and this metadata: the one place its format is written. */
export function encodeModelFile(tensors: TensorIn[], meta: ModelMeta): Buffer {
  return encodeSafetensors(tensors, {
    format_version: String(FORMAT_VERSION),
    config: storedConfig(meta.config, RUN_ONLY),
    vocab: JSON.stringify(meta.vocab),
    step: String(meta.step),
    best_val_loss: meta.bestValLoss === null ? "null" : String(meta.bestValLoss),
    ...(meta.calibration ? { calibration: JSON.stringify(meta.calibration) } : {}),
  });
}

export function saveModel(file: string, model: Model, meta: ModelMeta): void {
  writeFileAtomic(file, encodeModel(model, meta), { what: "checkpoint" });
}

/** The validation loss recorded in DIR/best.safetensors, if there is a readable one. */
export function bestFileLoss(dir: string): number | null {
  try {
    const v = readCheckpointFile(path.join(dir, BEST)).metadata.best_val_loss;
    return v === undefined || v === "null" ? null : Number(v);
  } catch {
    return null;
  }
}

/** `--model` accepts a run directory (its latest checkpoint) or a checkpoint file, which must be a regular file. */
export function resolveModelPath(p: string, what = "--model"): string {
  const hint = "give a run directory (e.g. runs/my-run) or a .safetensors checkpoint";
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(p);
  } catch {
    // requireRegularFile below says why: missing, a symbolic link loop, a parent that is a file, …
  }
  if (st?.isDirectory()) {
    const f = path.join(p, LATEST);
    if (!fs.existsSync(f)) throw new UsageError(`${what} '${p}' is a directory without ${LATEST}: is it a run directory of rnn train?`);
    requireRegularFile(f, what, { hint: "its latest checkpoint must be a .safetensors file", usage: true });
    return f;
  }
  requireRegularFile(p, what, { hint, usage: true });
  return p;
}

export interface LoadedModel {
  model: Model;
  meta: ModelMeta;
  path: string;
}

/** Reads, checks (validateCheckpoint: nothing is allocated from an invalid file) and builds a model. */
export function loadModel(p: string, ops: Kernels, what = "--model"): LoadedModel {
  const file = resolveModelPath(p, what);
  const decoded = readCheckpointFile(file);
  checkFormatVersion(decoded.metadata, file);
  const { config, vocab, step, bestValLoss, calibration } = validateCheckpoint(decoded, file);
  let model: Model;
  try {
    model = createModel(config.model, ops);
  } catch (e) {
    // a model that passes validation may still not fit here: say which setting makes it too large
    throw isOutOfMemory(e) ? modelTooLarge(file, config.model, describeModel(config.model), e) : e;
  }
  setWeights(model, decoded.tensors, file);
  return { model, meta: { config, vocab, step, bestValLoss, ...(calibration ? { calibration } : {}) }, path: file };
}


// ---- training state (resume) ------------------------------------------------------------------------------

export interface RunState {
  step: number;
  epoch: number;
  /** next chunk of the epoch to train on */
  chunk: number;
  rng: [number, number, number, number];
  optStep: number;
  bestValLoss: number | null;
  evalsSinceBest: number;
  lastValLoss: number | null;
  /** the optimizer slab, the carried hidden state [L×B×H] and cell state */
  optimizer: Float32Array | Float64Array;
  h: Float32Array | Float64Array;
  c: Float32Array | Float64Array | null;
  /** --ema: the raw weights [P] (the model file holds their average, src/train/average.ts); absent otherwise */
  params?: Float32Array | Float64Array | null;
  /** --calibrate, the run's last save: the decoder's weights [V × H] and bias [V] as it trained (the model file
   *  holds them scaled by the fitted temperature, src/eval/calibrate.ts); absent otherwise */
  decoder?: Float32Array | Float64Array | null;
  /** the run's whole effective config (saved without its path); null in the state of an older rnn */
  config?: StateConfig | TrainConfig | null;
  /** the fingerprint of the training text (src/corpus/fingerprint.ts); null in the state of an older rnn */
  fingerprint?: CorpusFingerprint | null;
}

export function encodeState(s: RunState): Buffer {
  const tensors = [
    { name: "optimizer", shape: [s.optimizer.length], data: s.optimizer },
    { name: "h", shape: [s.h.length], data: s.h },
  ];
  if (s.c) tensors.push({ name: "c", shape: [s.c.length], data: s.c });
  if (s.params) tensors.push({ name: "params", shape: [s.params.length], data: s.params });
  if (s.decoder) tensors.push({ name: "decoder", shape: [s.decoder.length], data: s.decoder });
  const metadata: Record<string, string> = {
    format_version: String(FORMAT_VERSION),
    kind: "rnn-train-state",
    counters: JSON.stringify({
      step: s.step, epoch: s.epoch, chunk: s.chunk, rng: s.rng, optStep: s.optStep,
      bestValLoss: s.bestValLoss, evalsSinceBest: s.evalsSinceBest, lastValLoss: s.lastValLoss,
    }),
  };
  if (s.config) metadata.config = storedConfig(s.config, ["out"]);
  if (s.fingerprint) metadata.fingerprint = encodeFingerprint(s.fingerprint);
  return encodeSafetensors(tensors, metadata);
}

/** The run config in a state file's metadata: null when absent (an older rnn) or not a config object. */
function stateConfigOf(metadata: Record<string, string>): StateConfig | null {
  if (metadata.config === undefined) return null;
  try {
    const c = JSON.parse(metadata.config) as unknown;
    return c && typeof c === "object" && !Array.isArray(c) && typeof (c as { model?: unknown }).model === "object" ? (c as StateConfig) : null;
  } catch {
    return null;
  }
}

export function decodeState(buf: Buffer, what: string): RunState {
  const { tensors, metadata } = decodeSafetensors(buf, what);
  checkFormatVersion(metadata, what);
  if (metadata.kind !== "rnn-train-state") throw new RnnError(`${what} is not an rnn training-state file`);
  const c = JSON.parse(metadata.counters);
  const get = (n: string) => tensors.get(n)?.data ?? null;
  const optimizer = get("optimizer"), h = get("h");
  if (!optimizer || !h) throw new RnnError(`${what} is missing optimizer or hidden state`);
  return { ...c, optimizer, h, c: get("c"), params: get("params"), decoder: get("decoder"), config: stateConfigOf(metadata), fingerprint: parseFingerprint(metadata.fingerprint) };
}

/** Saves model + state so that a crash at any point leaves a consistent pair (see the header comment). */
export function saveRun(dir: string, model: Model, meta: ModelMeta, state: RunState): void {
  commitRun(dir, () => encodeModel(model, meta), state);
}

/** saveRun for a model file already encoded (encodeModelFile: rnn import's): state, then the model, then the rename. */
export function commitRun(dir: string, modelFile: () => Buffer, state: RunState): void {
  writeFileAtomic(path.join(dir, NEXT_STATE), encodeState(state), { what: "training state" });
  try {
    writeFileAtomic(path.join(dir, LATEST), modelFile(), { what: "checkpoint" });
  } catch (e) {
    // the model was not committed (disk full, …): the state written for it belongs to nothing
    try {
      fs.unlinkSync(path.join(dir, NEXT_STATE));
    } catch {
      // gone already; the next resume clears it otherwise (settleRunState)
    }
    throw e;
  }
  try {
    fs.renameSync(path.join(dir, NEXT_STATE), path.join(dir, STATE));
  } catch (e) {
    throw new RnnError(`cannot rename ${NEXT_STATE} to ${STATE} in ${dir}: ${describeFsError(e)} (the checkpoint is saved; --resume reads either)`);
  }
}

/**
 * What the training state of step `step` in DIR says about the run (its config, the fingerprint of its text), read from the file's header
 * alone (the optimizer slab may be gigabytes; train() reads and checks the whole file). null when no state file
 * of that step has a readable header: then train() explains.
 */
export function loadRunSettings(dir: string, step: number): { config: StateConfig | null; fingerprint: CorpusFingerprint | null } | null {
  for (const name of [STATE, NEXT_STATE]) {
    const m = readHeaderMetadata(path.join(dir, name));
    if (!m || m.kind !== "rnn-train-state") continue;
    let counters: { step?: unknown };
    try {
      counters = JSON.parse(m.counters ?? "null") ?? {};
    } catch {
      continue;
    }
    if (counters.step === step) return { config: stateConfigOf(m), fingerprint: parseFingerprint(m.fingerprint) };
  }
  return null;
}

/**
 * Tidies the training state of run directory DIR before a resume (with its lock held): a next.state that
 * belongs to DIR/latest.safetensors (a crash between the model's commit and the rename) becomes latest.state,
 * as the save would have left it; any other next.state (a save that failed after writing it: a full disk, a
 * kill) belongs to no model and is removed. Returns what it did, for tests. Best effort: a file it cannot read
 * is left for loadRunState to judge.
 */
export function settleRunState(dir: string): "renamed" | "removed" | null {
  const next = path.join(dir, NEXT_STATE);
  if (!fs.existsSync(next)) return null;
  const stepIn = (f: string, key: "step" | "counters"): number | null => {
    const m = readHeaderMetadata(f);
    if (!m) return null;
    try {
      const v = key === "step" ? Number(m.step) : (JSON.parse(m.counters ?? "null") as { step?: unknown } | null)?.step;
      return typeof v === "number" && Number.isSafeInteger(v) ? v : null;
    } catch {
      return null;
    }
  };
  const model = stepIn(path.join(dir, LATEST), "step");
  if (model === null) return null;
  const nextStep = stepIn(next, "counters");
  try {
    if (nextStep === model && stepIn(path.join(dir, STATE), "counters") !== model) {
      fs.renameSync(next, path.join(dir, STATE));
      return "renamed";
    }
    fs.unlinkSync(next);
    return "removed";
  } catch {
    return null;
  }
}

/** The state that belongs with DIR/latest.safetensors at step `step`. */
export function loadRunState(dir: string, step: number): RunState {
  for (const name of [STATE, NEXT_STATE]) {
    const f = path.join(dir, name);
    if (!fs.existsSync(f)) continue;
    let s: RunState;
    try {
      s = decodeState(fs.readFileSync(f), f);
    } catch {
      continue; // a torn or stale file: the other one may match
    }
    if (s.step === step) return s;
  }
  throw new RnnError(`${dir} has no training state for step ${step} (${STATE} is missing or from another step): it cannot be resumed exactly; start a new run from its weights is not supported yet`);
}
