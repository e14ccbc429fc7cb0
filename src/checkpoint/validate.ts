// Validation of a decoded checkpoint BEFORE anything is allocated from it. The checksum only proves a file is
// what its writer wrote; a crafted file can carry a correct checksum and a config of layers = 1e9, which would
// make createModel allocate until V8 dies. Everything a model is built from is checked here first:
//
//   config       the model config: cell and activation from the known sets, whole numbers in the bounds below,
//                the combinations resolveTrainConfig allows (relu only for a cell that takes --activation, residual only with
//                2+ layers); the training fields a command reads (batch, seq, valFrac, threads, corpus, …), when
//                present, of the right type and range
//   size         the parameter count the config implies, at most LIMITS.params
//   vocabulary   a list of vocabSize distinct strings, each exactly one Unicode scalar value (one code point,
//                no lone surrogate), as the corpus reader makes them
//   tensors      exactly the tensors the config implies (paramSpec, the PyTorch state_dict names, and statsSpec's
//                running statistics of --norm batch), each of
//                exactly the implied shape: none missing, none unknown. With the size bound this bounds the
//                total size of the file and of the model built from it.
//   weights      every value finite (no NaN, no ±Inf; training never saves such weights)
//   metadata     step a whole number ≥ 0, best_val_loss "null" or a finite number
//
// Each violation is one line naming it; validateCheckpoint throws the first as a one-line RnnError (with the
// count of further ones).
import type { Calibration } from "../eval/calibrate.ts";
import { ACTIVATIONS, type CellKind, CELLS, DROPOUT_MODES, INITS, LR_SCHEDULES, type ModelConfig, OPTIMIZERS, ORTHO_OPTS, type TrainConfig } from "../config.ts";
import { RnnError } from "../errors.ts";
import type { Decoded } from "../io/safetensors.ts";
import { cellOf } from "../model/cells/index.ts";
import { type NormKind, NORMS } from "../model/norm.ts";
import { paramSpec, statsSpec } from "../model/params.ts";

/**
 * Bounds on what a checkpoint may ask for. Generous: far beyond anything rnn trains in practice, tight enough
 * that nothing passing them can make a process allocate without bound (the parameter count caps the memory).
 */
export const LIMITS = {
  /** stacked layers */
  layers: 1024,
  /** hidden width H */
  hidden: 65_536,
  /** embedding width E (0 = one-hot) */
  embed: 65_536,
  /** vocabulary size V: the number of Unicode scalar values */
  vocab: 0x110000 - 0x800,
  /** parameters: 2^30 float32 values = 4 GiB, the largest file Node 20 reads into one buffer */
  params: 2 ** 30,
  /** --batch, --seq (a run also needs batch × seq + 1 characters of text) */
  batch: 1 << 24,
  seq: 1 << 24,
  /** --threads */
  threads: 4096,
} as const;

export interface ValidCheckpoint {
  config: TrainConfig;
  vocab: string[];
  /** metadata.step (0 when absent) */
  step: number;
  /** metadata.best_val_loss (null when absent or "null") */
  bestValLoss: number | null;
  /** metadata.calibration: the temperature the run fitted at its end (absent when it fitted none) */
  calibration?: Calibration;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);
const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const show = (v: unknown): string => {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  s = s.replace(/[\x00-\x1f\x7f]+/g, " ");
  return s.length > 40 ? s.slice(0, 37) + "…" : s;
};

function intIn(problems: string[], where: string, v: unknown, lo: number, hi: number): void {
  if (!isInt(v) || v < lo || v > hi) problems.push(`${where} is ${show(v)}, not a whole number in ${lo}..${hi}`);
}

function oneOf(problems: string[], where: string, v: unknown, choices: readonly string[]): void {
  if (typeof v !== "string" || !choices.includes(v)) problems.push(`${where} is ${show(v)}, not one of ${choices.join(", ")}`);
}

/** Problems with config.model; empty when it is a model rnn can build. */
export function modelConfigProblems(m: unknown): string[] {
  const p: string[] = [];
  if (!isObj(m)) return [`config.model is ${show(m)}, not an object`];
  oneOf(p, "config.model.cell", m.cell, CELLS);
  intIn(p, "config.model.layers", m.layers, 1, LIMITS.layers);
  intIn(p, "config.model.hidden", m.hidden, 1, LIMITS.hidden);
  intIn(p, "config.model.embed", m.embed, 0, LIMITS.embed);
  intIn(p, "config.model.vocabSize", m.vocabSize, 1, LIMITS.vocab);
  if (m.activation !== undefined) oneOf(p, "config.model.activation", m.activation, ACTIVATIONS);
  if (m.residual !== undefined && typeof m.residual !== "boolean") p.push(`config.model.residual is ${show(m.residual)}, not true or false`);
  if (m.forgetGate !== undefined && typeof m.forgetGate !== "boolean") p.push(`config.model.forgetGate is ${show(m.forgetGate)}, not true or false`);
  if (m.norm !== undefined) oneOf(p, "config.model.norm", m.norm, Object.keys(NORMS));
  if (p.length) return p;
  let cell;
  try {
    cell = cellOf({ cell: m.cell as CellKind, forgetGate: m.forgetGate as boolean | undefined, norm: m.norm as NormKind | undefined });
  } catch (e) {
    return [`config.model: ${(e as Error).message}`];
  }
  if (m.activation === "relu" && !cell.takesActivation) p.push(`config.model.activation is relu for the ${m.cell} cell, which has fixed nonlinearities`);
  if (m.residual === true && (m.layers as number) < 2) p.push(`config.model.residual is true with 1 layer (residual needs at least 2)`);
  return p;
}

/** Problems with the training fields of a config (each checked only when present). */
function trainConfigProblems(c: Obj): string[] {
  const p: string[] = [];
  const has = (k: string) => c[k] !== undefined;
  if (has("batch")) intIn(p, "config.batch", c.batch, 1, LIMITS.batch);
  if (has("seq")) intIn(p, "config.seq", c.seq, 1, LIMITS.seq);
  if (has("threads")) intIn(p, "config.threads", c.threads, 1, LIMITS.threads);
  if (has("valFrac") && !(typeof c.valFrac === "number" && c.valFrac >= 0 && c.valFrac < 1)) {
    p.push(`config.valFrac is ${show(c.valFrac)}, not a number in [0, 1)`);
  }
  if (has("corpus") && !(Array.isArray(c.corpus) && c.corpus.every((s) => typeof s === "string"))) {
    p.push(`config.corpus is ${show(c.corpus)}, not a list of file names`);
  }
  if (has("out") && typeof c.out !== "string") p.push(`config.out is ${show(c.out)}, not a path`);
  if (has("optimizer")) oneOf(p, "config.optimizer", c.optimizer, OPTIMIZERS);
  if (has("init")) oneOf(p, "config.init", c.init, INITS);
  if (has("orthoOpt")) oneOf(p, "config.orthoOpt", c.orthoOpt, ORTHO_OPTS);
  for (const k of ["steps", "epochs", "evalEvery", "checkpointEvery", "keep", "patience", "warmup", "lrDecayEvery", "seed"]) {
    if (has(k) && !(isInt(c[k]) && (c[k] as number) >= 0)) p.push(`config.${k} is ${show(c[k])}, not a whole number ≥ 0`);
  }
  for (const k of ["lr", "momentum", "beta1", "beta2", "eps", "weightDecay", "clip", "clipValue", "orthoReg", "dropout", "lrDecay", "time"]) {
    if (has(k) && !(typeof c[k] === "number" && Number.isFinite(c[k]))) p.push(`config.${k} is ${show(c[k])}, not a finite number`);
  }
  for (const k of ["dropoutInput", "weightDrop", "embedDropout", "ema", "calibrate"]) {
    if (has(k) && !(typeof c[k] === "number" && (c[k] as number) >= 0 && (c[k] as number) < 1)) p.push(`config.${k} is ${show(c[k])}, not a probability in [0, 1)`);
  }
  if (has("lrMin") && !(typeof c.lrMin === "number" && Number.isFinite(c.lrMin) && c.lrMin >= 0)) p.push(`config.lrMin is ${show(c.lrMin)}, not a number ≥ 0`);
  if (has("lrHorizon") && !(isInt(c.lrHorizon) && (c.lrHorizon as number) >= 1)) p.push(`config.lrHorizon is ${show(c.lrHorizon)}, not a whole number ≥ 1`);
  if (has("lrBends") && !validBends(c.lrBends)) {
    p.push(`config.lrBends is ${show(c.lrBends)}, not a list of [step, phase] bends of the cosine (whole steps ≥ 1 and phases in (0, 1), both increasing)`);
  }
  if (has("dropoutMode")) oneOf(p, "config.dropoutMode", c.dropoutMode, DROPOUT_MODES);
  if (has("lrSchedule")) oneOf(p, "config.lrSchedule", c.lrSchedule, LR_SCHEDULES);
  if (has("forgetBias") && c.forgetBias !== null && !(typeof c.forgetBias === "number" && Number.isFinite(c.forgetBias))) {
    p.push(`config.forgetBias is ${show(c.forgetBias)}, not a finite number or null`);
  }
  if (has("autoSize")) {
    const a = c.autoSize;
    if (!isObj(a) || !finite(a.budget) || !finite(a.charsPerSec) || typeof a.reference !== "string" || typeof a.rule !== "string") {
      p.push(`config.autoSize is ${show(a)}, not a record of --time auto-sizing ({budget, charsPerSec, reference, rule})`);
    } else if (a.replanned !== undefined && !(isObj(a.replanned) && ["step", "elapsed", "charsPerSec", "was", "steps"].every((k) => finite((a.replanned as Record<string, unknown>)[k])))) {
      p.push(`config.autoSize.replanned is ${show(a.replanned)}, not a record of the horizon planned again ({step, elapsed, charsPerSec, was, steps})`);
    } else if (isObj(a.replanned) && a.replanned.times !== undefined && !(isInt(a.replanned.times) && (a.replanned.times as number) >= 1)) {
      p.push(`config.autoSize.replanned.times is ${show(a.replanned.times)}, not a whole number ≥ 1`);
    } else if (a.emaShare !== undefined && !(finite(a.emaShare) && (a.emaShare as number) > 0)) {
      p.push(`config.autoSize.emaShare is ${show(a.emaShare)}, not a number > 0`);
    }
  }
  return p;
}

/** Problems with a vocabulary for a model of vocabSize V. */
export function vocabProblems(vocab: unknown, V: number): string[] {
  if (!Array.isArray(vocab)) return [`the vocabulary is ${show(vocab)}, not a list`];
  const p: string[] = [];
  if (vocab.length !== V) p.push(`the vocabulary has ${vocab.length} entries but config.model.vocabSize is ${V}`);
  const seen = new Map<string, number>();
  for (let i = 0; i < vocab.length; i++) {
    const s = vocab[i];
    if (typeof s !== "string" || s.length === 0 || s.length > 2) {
      p.push(`vocabulary entry ${i} is ${show(s)}, not a single character`);
    } else {
      const cp = s.codePointAt(0)!;
      if (String.fromCodePoint(cp) !== s) p.push(`vocabulary entry ${i} is ${show(s)}, not a single character (one code point)`);
      else if (cp >= 0xd800 && cp <= 0xdfff) p.push(`vocabulary entry ${i} is a lone UTF-16 surrogate (U+${cp.toString(16).toUpperCase()}), not a character`);
      else if (seen.has(s)) p.push(`vocabulary entries ${seen.get(s)} and ${i} are both ${show(s)} (entries must be distinct)`);
      else seen.set(s, i);
    }
    if (p.length >= 8) break; // enough to show the first; the vocabulary may be a million entries long
  }
  return p;
}

const dims = (shape: readonly number[]) => `[${shape.join("×")}]`;

/** Every problem with a decoded checkpoint, one line each (no file name); empty when it can be loaded. */
export function checkpointProblems(decoded: Decoded): string[] {
  const { metadata, tensors } = decoded;
  for (const key of ["config", "vocab"]) {
    if (metadata[key] === undefined) return [`its metadata has no ${key}`];
  }
  let config: unknown, vocab: unknown;
  try {
    config = JSON.parse(metadata.config);
  } catch {
    return ["its metadata config is not valid JSON"];
  }
  try {
    vocab = JSON.parse(metadata.vocab);
  } catch {
    return ["its metadata vocab is not valid JSON"];
  }
  if (!isObj(config)) return [`its config is ${show(config)}, not an object`];

  // 1. the model config: everything below is derived from it, so stop here if it is wrong
  const mp = modelConfigProblems(config.model);
  if (mp.length) return mp;
  const m = config.model as unknown as ModelConfig;

  // 2. the size it implies, before building anything of that size (paramSpec is O(layers) small records)
  const spec = paramSpec(m);
  if (spec.size > LIMITS.params) {
    return [`its config implies ${spec.size.toLocaleString("en-US")} parameters, more than rnn loads (${LIMITS.params.toLocaleString("en-US")})`];
  }

  const problems: string[] = [];
  problems.push(...trainConfigProblems(config));
  problems.push(...vocabProblems(vocab, m.vocabSize));

  // 3. tensors: exactly the expected names and shapes (the parameters, and batch norm's running statistics)
  const stats = statsSpec(m).tensors;
  const expected = new Map<string, number[]>([...spec.tensors, ...stats].map((t) => [t.name, t.shape]));
  for (const t of [...spec.tensors, ...stats]) {
    const got = tensors.get(t.name);
    if (!got) problems.push(`tensor ${t.name} ${dims(t.shape)} is missing (the config implies it)`);
    else if (got.shape.length !== t.shape.length || got.shape.some((d, i) => d !== t.shape[i])) {
      problems.push(`tensor ${t.name} has shape ${dims(got.shape)}, the config implies ${dims(t.shape)}`);
    }
  }
  for (const name of tensors.keys()) {
    if (!expected.has(name)) problems.push(`unknown tensor ${show(name)} (not part of the model its config describes)`);
  }

  // 4. weights: finite (and running variances not negative)
  for (const [name, t] of tensors) {
    if (!expected.has(name)) continue;
    const d = t.data, variance = name.endsWith(".running_var");
    for (let i = 0; i < d.length; i++) {
      const x = d[i];
      if (x - x !== 0) {
        problems.push(`tensor ${name} has ${Number.isNaN(x) ? "a NaN" : "an infinite value"} at index ${i}`);
        break;
      }
      if (variance && x < 0) {
        problems.push(`tensor ${name} has a negative variance at index ${i}`);
        break;
      }
    }
  }

  // 5. the other metadata a loader reads
  const step = metadata.step;
  if (step !== undefined && !/^(0|[1-9][0-9]{0,15})$/.test(step)) problems.push(`its metadata step is ${show(step)}, not a whole number ≥ 0`);
  const bv = metadata.best_val_loss;
  if (bv !== undefined && bv !== "null" && !(bv.trim() !== "" && Number.isFinite(Number(bv)))) {
    problems.push(`its metadata best_val_loss is ${show(bv)}, not a number or null`);
  }
  if (metadata.calibration !== undefined && parseCalibration(metadata.calibration) === null) {
    problems.push(`its metadata calibration is ${show(metadata.calibration)}, not {"temperature" > 0, "chars" ≥ 1, "lossBefore", "lossAfter"}`);
  }
  return problems;
}

/**
 * Checks a decoded checkpoint (see the header comment) and returns what a loader needs from its metadata.
 * Throws a one-line RnnError naming `file` and the first problem.
 */
export function validateCheckpoint(decoded: Decoded, file: string): ValidCheckpoint {
  const problems = checkpointProblems(decoded);
  if (problems.length) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? "s" : ""})` : "";
    throw new RnnError(
      `${file} is not a valid rnn checkpoint: ${problems[0]}${more}; it was not written by rnn train or was altered — use another checkpoint`.replace(/[\x00-\x1f\x7f]+/g, " "),
    );
  }
  const { metadata } = decoded;
  const bv = metadata.best_val_loss;
  return {
    config: JSON.parse(metadata.config) as TrainConfig,
    vocab: JSON.parse(metadata.vocab) as string[],
    step: Number(metadata.step ?? 0),
    bestValLoss: bv === undefined || bv === "null" ? null : Number(bv),
    ...(metadata.calibration !== undefined ? { calibration: parseCalibration(metadata.calibration)! } : {}),
  };
}

/** metadata.calibration (src/eval/calibrate.ts, Calibration) read back, null when it is not one. */
function parseCalibration(text: string): Calibration | null {
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch {
    return null;
  }
  if (!c || typeof c !== "object") return null;
  const { temperature, chars, lossBefore, lossAfter } = c as Record<string, unknown>;
  const ok = finite(temperature) && (temperature as number) > 0 && isInt(chars) && (chars as number) >= 1 && finite(lossBefore) && finite(lossAfter);
  return ok ? { temperature, chars, lossBefore, lossAfter } as Calibration : null;
}

/** [[step, phase], …]: whole steps ≥ 1 and phases in (0, 1), both strictly increasing (src/train/schedule.ts) */
function validBends(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  let step = 0, phase = 0;
  for (const b of v) {
    if (!Array.isArray(b) || b.length !== 2 || !isInt(b[0]) || typeof b[1] !== "number" || !(b[0] > step) || !(b[1] > phase && b[1] < 1)) return false;
    [step, phase] = b as [number, number];
  }
  return true;
}
