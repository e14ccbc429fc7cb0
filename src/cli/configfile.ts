// `rnn train --config FILE.json` and `rnn train --like RUN`: the settings of a run from a JSON file or from
// another run's checkpoint. A config file has exactly the keys of the config stored in every checkpoint
// (`rnn info RUN --json` prints it, under "config"; that whole output is accepted too): the training settings
// at the top, the model's under "model", plus "corpus" and "out". Every value is checked as the flag that sets
// it would check it (the option table's parsers, the same messages), a key rnn does not know is an error
// naming it, and flags given on the command line override the file.
import path from "node:path";
import { forgetGate } from "../model/cells/index.ts";
import {
  CELLS, MODEL_DEFAULTS, MODEL_FIELDS, type ModelConfig, NORM_CHOICES, ORTHO_OPTS, parseChoice, parseFloatFlag, parseIntFlag, TRAIN_DEFAULTS, TRAIN_EXTRA_DEFAULTS, type TrainConfig, type TrainSettings,
} from "../config.ts";
import { RnnError, UsageError } from "../errors.ts";
import { loadRunSettings, resolveModelPath } from "../checkpoint/checkpoint.ts";
import { readRegularFile } from "../io/paths.ts";
import { readCheckpointFile } from "../io/safetensors.ts";
import { optionsOf } from "./options.ts";

/** What a config file or another run says about a new run. */
export interface BaseSettings {
  /** the settings, flat (the model's fields beside the others), as flags give them */
  settings: Partial<TrainSettings>;
  /** the corpus files (absolute), when it names them */
  corpus?: string[];
  /** the run directory, when it names one */
  out?: string;
  /** where the settings came from, for messages: "a.json" or "--like runs/x" */
  source: string;
}

type Check = (where: string, v: unknown) => unknown;

const fail = (msg: string): never => {
  throw new UsageError(msg);
};

/** A value checked by the parser of the train flag that sets `field`; the config's own "unset" value passes. */
const viaFlag = (field: string): Check => (where, v) => {
  const def = ([MODEL_DEFAULTS, TRAIN_DEFAULTS, TRAIN_EXTRA_DEFAULTS].find((o) => field in o) as Record<string, unknown> | undefined)?.[field];
  if (v === def) return v; // e.g. epochs 0, time 0, lrDecayEvery 0, forgetBias null: not set
  const d = optionsOf("train").find((o) => o.field === field);
  if (!d) throw new Error(`no train option sets '${field}'`);
  if (!d.parse) return typeof v === "boolean" ? v : fail(`${where} must be true or false, got ${JSON.stringify(v)}`);
  const wanted = typeof def === "string" ? "string" : "number";
  if (typeof v !== wanted && !(field === "time" && typeof v === "string")) fail(`${where} must be a ${wanted}, got ${JSON.stringify(v)}`);
  return (d.parse as (flag: string, raw: string, previous: unknown) => unknown)(where, String(v), undefined);
};

/** Settings that no flag sets (Adam's betas and epsilon): checked here. */
const number = (o: Parameters<typeof parseFloatFlag>[2]): Check => (where, v) =>
  typeof v === "number" ? parseFloatFlag(where, String(v), o) : fail(`${where} must be a number, got ${JSON.stringify(v)}`);

/** An optional choice with no default in config.ts (absent when off): a string the flag's parser accepts. */
const choiceOf = (field: string, choices: readonly string[]): Check => (where, v) =>
  typeof v === "string" ? parseChoice(where, v, choices) : fail(`${where} must be one of ${choices.join(", ")}, got ${JSON.stringify(v)}`);

const text: Check = (where, v) => (typeof v === "string" && v !== "" ? v : fail(`${where} must be a path (a string), got ${JSON.stringify(v)}`));
const texts: Check = (where, v) =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string" && x !== "") ? v
    : typeof v === "string" && v !== "" ? [v] : fail(`${where} must be a list of corpus files, got ${JSON.stringify(v)}`);

/** Every key of a stored config, and how its value is checked. */
const TOP: Record<Exclude<keyof TrainConfig, "model">, Check> = {
  corpus: texts, out: text,
  batch: viaFlag("batch"), seq: viaFlag("seq"), valFrac: viaFlag("valFrac"),
  optimizer: viaFlag("optimizer"), lr: viaFlag("lr"), momentum: viaFlag("momentum"),
  beta1: number({ min: 0, max: 1, exclusiveMax: true }), beta2: number({ min: 0, max: 1, exclusiveMax: true }), eps: number({ min: 0, exclusiveMin: true }),
  weightDecay: viaFlag("weightDecay"), clip: viaFlag("clip"), clipValue: viaFlag("clipValue"), orthoReg: viaFlag("orthoReg"),
  dropout: viaFlag("dropout"), lrDecay: viaFlag("lrDecay"), lrDecayEvery: viaFlag("lrDecayEvery"), warmup: viaFlag("warmup"), patience: viaFlag("patience"),
  init: viaFlag("init"), forgetBias: viaFlag("forgetBias"),
  steps: viaFlag("steps"), epochs: viaFlag("epochs"), time: viaFlag("time"),
  evalEvery: viaFlag("evalEvery"), checkpointEvery: viaFlag("checkpointEvery"), keep: viaFlag("keep"), seed: viaFlag("seed"), threads: viaFlag("threads"),
  sampleEvery: viaFlag("sampleEvery"), sampleLength: viaFlag("sampleLength"), initFrom: text, orthoOpt: choiceOf("orthoOpt", ORTHO_OPTS),
  autoSize: (where, v) => (isObject(v) ? v : fail(`${where} must be an object (how --time auto-sizing chose that run's settings)`)),
  dropoutMode: viaFlag("dropoutMode"), dropoutInput: viaFlag("dropoutInput"), weightDrop: viaFlag("weightDrop"), embedDropout: viaFlag("embedDropout"),
  lrSchedule: viaFlag("lrSchedule"), lrMin: viaFlag("lrMin"), ema: viaFlag("ema"), calibrate: viaFlag("calibrate"),
  lrHorizon: (where, v) => parseIntFlag(where, String(v), 1), // fixed by the run it came from: checked, then left out (a new run sets its own)
  lrBends: (where, v) => (Array.isArray(v) ? v : fail(`${where} must be a list of [step, phase] (where that run re-planned its cosine)`)), // likewise
};
const MODEL: Record<keyof ModelConfig, Check> = {
  cell: viaFlag("cell"), layers: viaFlag("layers"), hidden: viaFlag("hidden"), embed: viaFlag("embed"),
  activation: viaFlag("activation"), residual: viaFlag("residual"), forgetGate: viaFlag("forgetGate"),
  norm: (where, v) => (typeof v === "string" ? parseChoice(where, v, NORM_CHOICES) : fail(`${where} must be one of ${NORM_CHOICES.join(", ")}, got ${JSON.stringify(v)}`)),
  vocabSize: (where, v) => parseIntFlag(where, String(v), 0), // set from the corpus: checked, then left out
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The settings of a parsed config (a checkpoint's config, or `rnn info --json` output holding one under
 * "config"). Relative paths in it (corpus, out, initFrom) are taken relative to `baseDir`.
 */
export function settingsFromConfig(raw: unknown, source: string, baseDir: string): BaseSettings {
  if (!isObject(raw)) fail(`${source} must hold a JSON object (a checkpoint's config, or rnn info --json output)`);
  const obj = raw as Record<string, unknown>;
  // rnn info --json: the config is one of its keys (a config itself has no key "config")
  const cfg = isObject(obj.config) ? obj.config : obj;
  const settings: Record<string, unknown> = {};
  const out: BaseSettings = { settings: settings as Partial<TrainSettings>, source };
  const resolve = (p: string) => path.resolve(baseDir, p);
  for (const [k, v] of Object.entries(cfg)) {
    if (k === "model") {
      if (!isObject(v)) fail(`${source}: model must be an object of the model's settings (${MODEL_FIELDS.join(", ")})`);
      for (const [mk, mv] of Object.entries(v as Record<string, unknown>)) {
        const check = (MODEL as Record<string, Check>)[mk];
        if (!check) fail(`${source}: unknown key "model.${mk}" (a model has ${[...MODEL_FIELDS, "vocabSize"].join(", ")})`);
        const value = check(`${source}: model.${mk}`, mv);
        if (mk !== "vocabSize") settings[mk] = value;
      }
      continue;
    }
    const check = (TOP as Record<string, Check>)[k];
    if (!check) fail(`${source}: unknown key "${k}" (a config has the keys of a checkpoint's config: rnn info RUN --json shows one)`);
    const value = check(`${source}: ${k}`, v);
    if (k === "corpus") out.corpus = (value as string[]).map(resolve);
    else if (k === "out") out.out = resolve(value as string);
    else if (k === "initFrom") settings.initFrom = resolve(value as string);
    else if (k === "lrHorizon" || k === "lrBends" || k === "autoSize") continue; // fixed by the run it came from / how that run was sized: not settings
    else settings[k] = value;
  }
  // a stored config holds the forget bias that resolution filled in (1 with xavier or orthogonal init): taken
  // as unset, so that a --cell or --init given on top gets its own default, and nothing else changes
  const cell = (settings.cell ?? MODEL_DEFAULTS.cell) as ModelConfig["cell"];
  const init = settings.init ?? TRAIN_DEFAULTS.init;
  const choice = { cell, forgetGate: settings.forgetGate as boolean | undefined };
  if (settings.forgetBias === 1 && init !== "pytorch" && CELLS.includes(cell) && forgetGate(choice) >= 0) delete settings.forgetBias;
  return out;
}

/** `--config FILE`: the settings in a JSON file. */
export function settingsFromConfigFile(file: string): BaseSettings {
  // a regular file, opened without blocking (a FIFO or /dev/zero would hang or fill memory), of a sane size
  const text = readRegularFile(file, "--config", {
    maxBytes: 64 << 20, usage: true, hint: "give a JSON file (a checkpoint's config, or rnn info RUN --json > run.json)",
  }).toString("utf8");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config '${file}' is not valid JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  return settingsFromConfig(raw, path.basename(file), path.dirname(path.resolve(file)));
}

/** `--like RUN`: the settings of a run directory's latest checkpoint, or of a checkpoint file; never its --out. */
export function settingsFromRun(run: string): BaseSettings {
  const file = resolveModelPath(run, "--like"); // a run directory's latest checkpoint, or the file itself
  const isRunDir = file !== run;
  const { metadata } = readCheckpointFile(file);
  let cfg: unknown;
  try {
    cfg = JSON.parse(metadata.config);
  } catch {
    throw new RnnError(`${file} is not an rnn checkpoint: its metadata has no readable config`);
  }
  // a run directory's whole config (its budget included) is in its training state; a checkpoint holds the
  // model and training settings only
  const stored = isRunDir ? loadRunSettings(run, Number(metadata.step))?.config : null;
  const base = settingsFromConfig(stored ?? cfg, `--like ${run}`, process.cwd());
  delete base.out;
  return base;
}
