// The one place where rnn's configuration is typed, defaulted and validated, for every command.
// The CLI parses flags (declared once, in src/cli/options.ts, whose help renders the defaults below) into
// Partial<TrainSettings>; `configFromSettings` / `resolveTrainConfig` fill defaults and validate, `mergeResume`
// decides what a resumed run may change, and the effective config is stored in every checkpoint's metadata.
import { UsageError } from "./errors.ts";
import { CELL_TABLE, type CellKind, forgetGate, NO_FORGET_GATE } from "./model/cells/index.ts";
import { type NormKind, NORMS } from "./model/norm.ts";

export { type CellKind, gateCount } from "./model/cells/index.ts";
export type { NormKind } from "./model/norm.ts";
export type Activation = "tanh" | "relu";
export type OptimizerKind = "adam" | "rmsprop" | "adagrad" | "sgd" | "adamw";
export type DropoutMode = "element" | "locked";
export type LrSchedule = "step" | "cosine";
export type InitKind = "pytorch" | "xavier" | "orthogonal";
/** --ortho-opt: "cayley" keeps every gate block of W_hh orthogonal (src/train/cayley.ts); "none" is stored as absent */
export type OrthoOpt = "none" | "cayley";

/** Everything that fixes the shape and meaning of the parameters (must match on resume and load). */
export interface ModelConfig {
  cell: CellKind;
  /** L: stacked layers */
  layers: number;
  /** H: hidden width */
  hidden: number;
  /** E: embedding width; 0 = one-hot input */
  embed: number;
  /** plain RNN nonlinearity */
  activation: Activation;
  /** y = x + f(x) between stacked layers of equal width */
  residual: boolean;
  /** false: the cell without its forget gate (--no-forget-gate: lstm-nofg.ts). Stored only when false;
   *  absent = true, as in every checkpoint before the flag */
  forgetGate?: boolean;
  /** --norm: each layer's projections (and the LSTM's c_t) normalised, src/model/norm.ts. Stored only when
   *  set; absent = none, as in every checkpoint before the flag */
  norm?: NormKind;
  /** V: vocabulary size (set from the corpus) */
  vocabSize: number;
}

export interface TrainConfig {
  model: ModelConfig;
  corpus: string[];
  out: string;
  // data
  batch: number; // B
  seq: number; // T
  valFrac: number;
  // optimisation
  optimizer: OptimizerKind;
  lr: number;
  momentum: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  clip: number; // global-norm clip, 0 = off
  clipValue: number; // per-element clip, 0 = off
  orthoReg: number; // λ of λ Σ‖WᵀW − I‖²
  dropout: number;
  lrDecay: number;
  lrDecayEvery: number;
  warmup: number;
  patience: number; // 0 = off
  // init
  init: InitKind;
  forgetBias: number | null; // null = leave as the init draws it
  // budget (0 = unset; at least one is set after resolution)
  steps: number;
  epochs: number;
  time: number; // seconds
  // cadence
  evalEvery: number;
  checkpointEvery: number;
  keep: number;
  seed: number;
  threads: number;
  // optional: absent in the config of a run that does not use them, so its bytes stay as they were
  /** steps between samples written to samples.jsonl; absent or 0 = no samples */
  sampleEvery?: number;
  /** characters per sample (absent: TRAIN_SAMPLE_DEFAULTS.sampleLength) */
  sampleLength?: number;
  /** the checkpoint a fine-tuned run started from (absolute path); absent for a run from scratch */
  initFrom?: string;
  // regularisation and schedule (issue 13); each absent when off (TRAIN_EXTRA_DEFAULTS: what absent means)
  /** --dropout-mode locked: --dropout's masks are one per stream per chunk, the same at every step (variational
   *  dropout); absent = element (a fresh mask for every element) */
  dropoutMode?: DropoutMode;
  /** locked dropout on the layer-0 input (the embedding vectors), probability; needs an embedding */
  dropoutInput?: number;
  /** DropConnect on every layer's W_hh: one mask per chunk, shared by all streams, probability */
  weightDrop?: number;
  /** whole rows of the embedding dropped per chunk, probability; needs an embedding */
  embedDropout?: number;
  /** the learning-rate schedule; absent = step (--lr-decay, --lr-decay-every) */
  lrSchedule?: LrSchedule;
  /** cosine: the floor the learning rate decays to (stored with lrSchedule) */
  lrMin?: number;
  /** cosine: the schedule's length in steps, fixed when the run starts (cosineHorizon: its step budget) and
   *  kept on resume; lrAt reads it. Set by rnn train, never by a flag */
  lrHorizon?: number;
  /** cosine: where an auto-sized run re-planned its horizon, [step, the phase reached there] in step order
   *  (src/train/schedule.ts, cosinePhase); absent when never re-planned. Set by rnn train, never by a flag */
  lrBends?: [number, number][];
  /** --ema D: an exponential moving average of the weights (decay D per step) is the model validated, sampled
   *  and saved (src/train/average.ts); absent when off */
  ema?: number;
  /** --calibrate F: the first ⌊F × characters⌋ of the corpus are held out from training, and the model a run
   *  saves at its end has its softmax temperature fitted on them (src/eval/calibrate.ts); absent when off */
  calibrate?: number;
  /** "cayley": optimise every H × H gate block of W_hh on the orthogonal group (src/train/cayley.ts). Absent
   *  when off ("none" is resolved away), as in every checkpoint before the flag */
  orthoOpt?: OrthoOpt;
  /** how `--time` auto-sizing chose this config (src/train/autosize.ts); absent for a run not auto-sized */
  autoSize?: AutoSizeRecord;
}

/** What an auto-sized run records of the choice (the chosen settings themselves are the config's fields). */
export interface AutoSizeRecord {
  /** seconds: the --time given (the config's `time` is what was left of it after measuring the speed) */
  budget: number;
  /** the training speed (characters per second) the step horizon was computed from: the chosen config's */
  charsPerSec: number;
  /** how that speed was found: the reference workload measured, and at what speed */
  reference: string;
  /** the rule and its constants, as src/train/autosize.ts names them */
  rule: string;
  /** the horizon planned again from the run's own speed (src/train/autosize.ts, replanHorizon), the last time:
   *  at which step and second, from what speed (since the plan before), the horizon it replaced and the new one
   *  (also the run's steps and lrHorizon; kept here too because a model file carries no step budget), and how
   *  many times the run was planned again in all */
  replanned?: { step: number; elapsed: number; charsPerSec: number; was: number; steps: number; times?: number };
  /** the rule chose --ema: its time constant as a share of the horizon (a re-planned horizon re-plans --ema with it) */
  emaShare?: number;
}

export const MODEL_DEFAULTS: Omit<ModelConfig, "vocabSize"> = {
  cell: "lstm",
  layers: 2,
  hidden: 128,
  embed: 0,
  activation: "tanh",
  residual: false,
};

export const TRAIN_DEFAULTS: Omit<TrainConfig, "model" | "corpus" | "out" | "threads"> = {
  batch: 50,
  seq: 50,
  valFrac: 0.05,
  optimizer: "adam",
  lr: 2e-3,
  momentum: 0.9,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  clip: 5,
  clipValue: 0,
  orthoReg: 0,
  dropout: 0,
  lrDecay: 1,
  lrDecayEvery: 0,
  warmup: 0,
  patience: 0,
  init: "orthogonal",
  forgetBias: null,
  steps: 0,
  epochs: 0,
  time: 0,
  evalEvery: 200,
  checkpointEvery: 500,
  keep: 0,
  seed: 42,
};

/** What the optional regularisation and schedule fields of TrainConfig mean when absent (they are stored only
 *  when they differ from this). */
export const TRAIN_EXTRA_DEFAULTS: { dropoutMode: DropoutMode; dropoutInput: number; weightDrop: number; embedDropout: number; lrSchedule: LrSchedule; lrMin: number; ema: number; calibrate: number } = {
  dropoutMode: "element",
  dropoutInput: 0,
  weightDrop: 0,
  embedDropout: 0,
  lrSchedule: "step",
  lrMin: 0,
  ema: 0,
  calibrate: 0,
};

/** `rnn eval --dynamic` (dynamic evaluation, Krause et al. 2018): the SGD step on each scored chunk, its
 *  decay back toward the trained weights, and the chunk length. Chosen by a small sweep on tiny-shakespeare
 *  (docs/model.md, "Dynamic evaluation"). */
export const DYNAMIC_EVAL_DEFAULTS = { dynamicLr: 0.1, dynamicDecay: 0.001, seq: 50 };

/** Samples during training (`--sample-every`): their length when not given. */
export const TRAIN_SAMPLE_DEFAULTS = { sampleLength: 200 };

/** The step budget of a run given no --steps, --epochs or --time. */
export const DEFAULT_STEPS = 1000;

/** `rnn sample`: what to generate. */
export interface SampleConfig {
  /** characters to generate after the prime */
  length: number;
  temperature: number;
  /** fed first, echoed at the start of every sample */
  prime: string;
  seed: number;
  argmax: boolean;
  /** keep only the k most likely characters (0 = all) */
  topK: number;
  /** nucleus sampling: after temperature and top-k, keep the smallest set of most likely characters whose
   *  mass is at least topP, renormalised (0 or 1 = off) */
  topP?: number;
  /** samples generated in parallel */
  count: number;
}

export const SAMPLE_DEFAULTS: SampleConfig = {
  length: 1000,
  temperature: 1,
  prime: "",
  seed: 42,
  argmax: false,
  topK: 0,
  topP: 0,
  count: 1,
};

/** `rnn predict`: how many of the most likely next characters to list (0 = all), at which temperature. */
export const PREDICT_DEFAULTS = { topK: 10, temperature: 1 };

/** `rnn serve`: where to listen (loopback only unless told otherwise) and which directory's runs to serve. */
export const SERVE_DEFAULTS = { port: 8080, host: "127.0.0.1", dir: "runs" };

/** `rnn diagnose`: streams of the chunk (its length defaults to the model's --seq), and the chunks of the
 *  carried-state run (‖c_t‖ by step). */
export const DIAGNOSE_DEFAULTS = { batch: 16, chunks: 20 };

/** `rnn bench`: timed seconds per workload. */
export const BENCH_DEFAULTS = { seconds: 5 };

/** --cell choices: the cell table's keys (src/model/cells/index.ts) */
export const CELLS = Object.keys(CELL_TABLE) as readonly CellKind[];
export const ACTIVATIONS: readonly Activation[] = ["tanh", "relu"];
export const OPTIMIZERS: readonly OptimizerKind[] = ["adam", "rmsprop", "adagrad", "sgd", "adamw"];
export const DROPOUT_MODES: readonly DropoutMode[] = ["element", "locked"];
export const LR_SCHEDULES: readonly LrSchedule[] = ["step", "cosine"];
export const INITS: readonly InitKind[] = ["pytorch", "xavier", "orthogonal"];
export const ORTHO_OPTS: readonly OrthoOpt[] = ["none", "cayley"];
/** --norm choices: none (the config has no norm field) and the normalisations of src/model/norm.ts */
export const NORM_CHOICES: readonly (NormKind | "none")[] = ["none", ...(Object.keys(NORMS) as NormKind[])];

// ---- flag value parsers (used by the CLI; each throws a one-line UsageError) -----------------------------

export function parseIntFlag(flag: string, raw: string, min = 1): number {
  const s = String(raw).trim();
  if (!/^[+-]?\d+$/.test(s)) throw new UsageError(`${flag} must be a whole number, got '${raw}'`);
  const v = Number(s);
  if (!Number.isSafeInteger(v)) throw new UsageError(`${flag} is too large: '${raw}'`);
  if (v < min) throw new UsageError(`${flag} must be at least ${min}, got ${v}`);
  return v;
}

export function parseFloatFlag(flag: string, raw: string, opts: { min?: number; max?: number; exclusiveMin?: boolean; exclusiveMax?: boolean } = {}): number {
  const s = String(raw).trim();
  const v = s === "" ? NaN : Number(s);
  if (!Number.isFinite(v)) throw new UsageError(`${flag} must be a finite number, got '${raw}'`);
  const { min, max, exclusiveMin, exclusiveMax } = opts;
  if (min !== undefined && (exclusiveMin ? v <= min : v < min)) {
    throw new UsageError(`${flag} must be ${exclusiveMin ? "greater than" : "at least"} ${min}, got ${v}`);
  }
  if (max !== undefined && (exclusiveMax ? v >= max : v > max)) {
    throw new UsageError(`${flag} must be ${exclusiveMax ? "less than" : "at most"} ${max}, got ${v}`);
  }
  return v;
}

export function parseChoice<T extends string>(flag: string, raw: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(raw)) return raw as T;
  throw new UsageError(`${flag} must be one of ${choices.join(", ")}; got '${raw}'`);
}

/** "90", "90s", "15m", "2h", "1h30m" → seconds */
export function parseDuration(flag: string, raw: string): number {
  const s = String(raw).trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(s)) {
    const v = Number(s);
    if (v > 0 && Number.isFinite(v)) return v;
  }
  const re = /(\d+(?:\.\d+)?)(h|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
    consumed += m[0].length;
  }
  if (consumed !== s.length || !(total > 0 && Number.isFinite(total))) {
    throw new UsageError(`${flag} must be a positive duration like 90s, 15m or 1h30m; got '${raw}'`);
  }
  return total;
}

/** Cross-field checks and defaults that depend on other fields. */
export function resolveTrainConfig(partial: Partial<Omit<TrainConfig, "model">> & { model?: Partial<ModelSettings & Pick<ModelConfig, "vocabSize">> }, defaults: { threads: number; out: string }): TrainConfig {
  const { norm, ...given } = partial.model ?? {};
  const model: ModelConfig = { ...MODEL_DEFAULTS, vocabSize: 0, ...given };
  if (norm !== undefined && norm !== "none") model.norm = norm; // stored only when set
  const cfg: TrainConfig = {
    ...TRAIN_DEFAULTS,
    corpus: [],
    out: defaults.out,
    threads: defaults.threads,
    ...stripUndefined(partial),
    model,
  };
  if (cfg.steps === 0 && cfg.epochs === 0 && cfg.time === 0) cfg.steps = DEFAULT_STEPS;
  const cellsWith = (has: (k: CellKind) => boolean) => `--cell ${CELLS.filter(has).join(" or ")} only`;
  const takesActivation = (k: CellKind) => CELL_TABLE[k].takesActivation, hasForgetGate = (k: CellKind) => forgetGate({ cell: k }) >= 0;
  if (cfg.model.activation === "relu" && !takesActivation(cfg.model.cell)) {
    throw new UsageError(`--activation applies to ${cellsWith(takesActivation)} (the ${cfg.model.cell} cell has fixed nonlinearities)`);
  }
  if (cfg.model.forgetGate !== false) delete cfg.model.forgetGate; // stored only when false
  else if (!NO_FORGET_GATE[cfg.model.cell]) throw new UsageError(`--no-forget-gate applies to ${cellsWith((k) => !!NO_FORGET_GATE[k])}`);
  else if (cfg.forgetBias !== null) throw new UsageError(`--forget-bias and --no-forget-gate contradict each other: without a forget gate there is no forget bias`);
  if (cfg.forgetBias !== null && !hasForgetGate(cfg.model.cell)) {
    throw new UsageError(`--forget-bias applies to ${cellsWith(hasForgetGate)}`);
  }
  if (cfg.init !== "pytorch" && cfg.forgetBias === null && forgetGate(cfg.model) >= 0) cfg.forgetBias = 1;
  if (cfg.orthoOpt === "none") delete cfg.orthoOpt; // stored only when on
  if (cfg.orthoOpt && cfg.orthoReg > 0) {
    throw new UsageError(`--ortho-reg ${cfg.orthoReg} and --ortho-opt ${cfg.orthoOpt} contradict each other: ${cfg.orthoOpt} keeps the recurrent blocks exactly orthogonal, so the penalty would be 0; use one of them`);
  }
  if (cfg.model.norm !== undefined && cfg.batch < NORMS[cfg.model.norm].minStreams) {
    throw new UsageError(`--norm ${cfg.model.norm} needs --batch ${NORMS[cfg.model.norm].minStreams} or more: it normalises each unit over the streams of a step, and one stream has no variance; --norm layer works at any batch`);
  }
  if (cfg.model.residual && cfg.model.layers < 2) {
    throw new UsageError(`--residual needs at least 2 layers (it adds each layer's input to its output between stacked layers)`);
  }
  resolveExtras(cfg);
  return cfg;
}

/**
 * The regularisation and schedule fields: what is off is left out (so a run that uses none of them stores the
 * config it always did), and what contradicts the rest of the config is refused in one line.
 */
function resolveExtras(cfg: TrainConfig): void {
  if (cfg.dropoutMode !== "locked") delete cfg.dropoutMode;
  else if (!(cfg.dropout > 0)) throw new UsageError(`--dropout-mode locked applies to --dropout's masks: give --dropout P too (it is 0)`);
  for (const k of ["dropoutInput", "weightDrop", "embedDropout", "ema", "calibrate"] as const) if (!((cfg[k] ?? 0) > 0)) delete cfg[k];
  if ((cfg.calibrate ?? 0) + cfg.valFrac >= 1) {
    throw new UsageError(`--calibrate ${cfg.calibrate} and --val-frac ${cfg.valFrac} together hold out the whole corpus: nothing is left to train on; lower them`);
  }
  if (cfg.ema !== undefined && cfg.orthoOpt) {
    throw new UsageError(`--ema ${cfg.ema} and --ortho-opt ${cfg.orthoOpt} contradict each other: an average of orthogonal matrices is not orthogonal, so the saved model would lose what ${cfg.orthoOpt} keeps; use one of them`);
  }
  if (cfg.model.embed === 0) {
    for (const k of ["dropoutInput", "embedDropout"] as const) {
      if (cfg[k] !== undefined) throw new UsageError(`${flagOf(k)} drops embedding vectors: it needs --embed E > 0 (with one-hot input there is no embedding to drop)`);
    }
  }
  if (cfg.lrSchedule !== "cosine") {
    delete cfg.lrSchedule;
    delete cfg.lrMin;
    delete cfg.lrHorizon;
    delete cfg.lrBends;
    return;
  }
  cfg.lrMin ??= TRAIN_EXTRA_DEFAULTS.lrMin;
  if (cfg.lrMin > cfg.lr) throw new UsageError(`--lr-min ${cfg.lrMin} is above --lr ${cfg.lr}: the cosine schedule decays from --lr down to --lr-min`);
  if (cfg.lrDecay !== 1 || cfg.lrDecayEvery !== 0) {
    throw new UsageError(`--lr-decay and --lr-decay-every belong to --lr-schedule step; --lr-schedule cosine decays by itself (to --lr-min): drop them`);
  }
  if (cfg.lrHorizon === undefined && cfg.steps === 0 && cfg.epochs === 0) {
    throw new UsageError(`--lr-schedule cosine needs a step budget to decay over: give --steps N or --epochs N (with --time alone the number of steps is not known in advance)`);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const r: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && k !== "model") (r as Record<string, unknown>)[k] = v;
  return r;
}

// ---- settings: the flat view the command line gives -----------------------------------------------------

/** The model's fields as a command line sets them (but V, set from the corpus): --norm none is a value there. */
export type ModelSettings = Omit<ModelConfig, "vocabSize" | "norm"> & { norm?: NormKind | "none" };
/** Every field a command line can set: the model's fields and training's (autoSize is a record, never set). */
export type TrainSettings = ModelSettings & Omit<TrainConfig, "model" | "corpus" | "out" | "autoSize">;

/** The settings that live in `config.model`, in the order a resumed run checks them (forgetGate, norm: no default). */
export const MODEL_FIELDS = [...Object.keys(MODEL_DEFAULTS), "forgetGate", "norm"] as (keyof ModelSettings)[];

/** A model setting as a flag or config file gives it, as the model's config holds it (--norm none: absent). */
export const modelValue = (k: keyof ModelSettings, v: unknown): unknown => (k === "norm" && v === "none" ? undefined : v);
const isModelField = (k: string): k is (typeof MODEL_FIELDS)[number] => (MODEL_FIELDS as string[]).includes(k);

/** Settings that may change when a run is resumed; every other one must agree with the run's config. */
export const RESUMABLE = ["steps", "epochs", "time", "lr", "clip", "evalEvery", "checkpointEvery", "keep", "patience", "threads", "sampleEvery", "sampleLength"] as const satisfies readonly (keyof TrainSettings)[];

/** Optional settings that are absent from a config when off, and the value a flag gives them then. */
const ABSENT_MEANS: Partial<TrainSettings> = { orthoOpt: "none" };

/** The flag that sets a field: evalEvery → --eval-every. */
export const flagOf = (field: string): string => "--" + field.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

/** A new run's config from the settings given (model fields are split off into config.model). */
export function configFromSettings(settings: Partial<TrainSettings>, corpus: string[], defaults: { threads: number; out: string }): TrainConfig {
  const model: Partial<ModelSettings> = {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(settings)) if (v !== undefined) (isModelField(k) ? (model as Record<string, unknown>) : rest)[k] = v;
  return resolveTrainConfig({ ...(rest as Partial<Omit<TrainConfig, "model">>), forgetBias: settings.forgetBias ?? null, model, corpus }, defaults);
}

/**
 * The config of a resumed run: the run's own (`prev`) with the resumable settings given replaced. A budget
 * given (--steps, --epochs or --time) replaces the old one entirely. Any other setting given must agree with
 * the run: one line naming the flag otherwise. `describe` names the run's model in that line.
 */
export function mergeResume(prev: TrainConfig, settings: Partial<TrainSettings>, describe: (m: ModelConfig) => string): TrainConfig {
  for (const k of MODEL_FIELDS) {
    const v = settings[k];
    if (k === "forgetGate" ? v === false && prev.model.forgetGate !== false : v !== undefined && modelValue(k, v) !== prev.model[k]) {
      throw new UsageError(`${k === "forgetGate" ? "--no-forget-gate" : `${flagOf(k)} ${v}`} contradicts the run being resumed (${describe(prev.model)}); drop the flag, or start a new run with --out`);
    }
  }
  const changeable = new Set<string>(RESUMABLE);
  const patch: Record<string, unknown> = {};
  const old = { ...ABSENT_MEANS, ...prev } as unknown as Record<string, unknown>;
  const extra = TRAIN_EXTRA_DEFAULTS as Record<string, unknown>;
  for (const [k, v] of Object.entries(settings)) {
    if (v === undefined || isModelField(k)) continue;
    if (changeable.has(k)) patch[k] = v;
    else if ((old[k] ?? extra[k]) !== v) { // an optional field absent from the run means its default
      throw new UsageError(`${flagOf(k)} ${v} differs from the run being resumed (${old[k] ?? extra[k]}); only ${RESUMABLE.map(flagOf).join(", ")} may change on --resume`);
    }
  }
  const budget = patch.steps !== undefined || patch.epochs !== undefined || patch.time !== undefined;
  return { ...prev, ...(budget ? { steps: 0, epochs: 0, time: 0 } : {}), ...patch, model: prev.model };
}
