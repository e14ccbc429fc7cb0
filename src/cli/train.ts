// `rnn train`: flags → config, corpus → ids, events → presenter, signals → a clean stop.
import os from "node:os";
import path from "node:path";
import chalk from "chalk";
import { type ModelConfig, resolveTrainConfig, type TrainConfig } from "../config.ts";
import { readCorpus } from "../corpus/corpus.ts";
import { RnnError, UsageError } from "../errors.ts";
import { selectKernels, type KernelChoice } from "../kernels/index.ts";
import { describeModel, loadModel } from "../checkpoint/checkpoint.ts";
import { checkRunDir, defaultOut, LATEST, prepareOutDir } from "../run/dir.ts";
import { metricsWriter } from "../train/metrics.ts";
import { train, type TrainEvent } from "../train/train.ts";
import { EXIT } from "./common.ts";
import { humanPresenter, jsonPresenter, type Presenter, quietPresenter } from "./present.ts";

export interface TrainFlags {
  cell?: ModelConfig["cell"];
  layers?: number;
  hidden?: number;
  embed?: number;
  activation?: ModelConfig["activation"];
  residual?: boolean;
  dropout?: number;
  init?: TrainConfig["init"];
  forgetBias?: number;
  batch?: number;
  seq?: number;
  valFrac?: number;
  optimizer?: TrainConfig["optimizer"];
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  clip?: number;
  clipValue?: number;
  orthoReg?: number;
  lrDecay?: number;
  lrDecayEvery?: number;
  warmup?: number;
  patience?: number;
  steps?: number;
  epochs?: number;
  time?: number;
  evalEvery?: number;
  checkpointEvery?: number;
  keep?: number;
  seed?: number;
  threads?: number;
  out?: string;
  resume?: string;
  force?: boolean;
  kernels?: KernelChoice;
  json?: boolean;
  quiet?: boolean;
}

const MODEL_FLAGS = ["cell", "layers", "hidden", "embed", "activation", "residual"] as const;
/** Flags that may change when a run is resumed; every other flag must agree with the run's config. */
export const RESUMABLE_FLAGS = ["steps", "epochs", "time", "lr", "clip", "evalEvery", "checkpointEvery", "keep", "patience", "threads"] as const;

const kebab = (s: string) => "--" + s.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

export async function trainCommand(corpusArgs: string[], flags: TrainFlags): Promise<void> {
  const threadsDefault = os.availableParallelism?.() ?? os.cpus().length;
  let cfg: TrainConfig;
  let resume = false;
  let resumedVocab: string[] | null = null;
  if (flags.resume) {
    resume = true;
    checkRunDir(flags.resume);
    const loaded = loadModel(flags.resume, (await selectKernels("ref")));
    const prev = loaded.meta.config;
    resumedVocab = loaded.meta.vocab;
    for (const k of MODEL_FLAGS) {
      const v = flags[k];
      if (v !== undefined && v !== prev.model[k]) {
        throw new UsageError(`${kebab(k)} ${v} contradicts the run being resumed (${describeModel(prev.model)}); drop the flag, or start a new run with --out`);
      }
    }
    const changeable = new Set<string>(RESUMABLE_FLAGS);
    const patch: Partial<TrainConfig> = {};
    for (const [k, v] of Object.entries(flags)) {
      if (v === undefined || (MODEL_FLAGS as readonly string[]).includes(k) || ["resume", "force", "kernels", "json", "quiet", "out"].includes(k)) continue;
      if (changeable.has(k)) (patch as Record<string, unknown>)[k] = v;
      else if ((prev as unknown as Record<string, unknown>)[k] !== v) {
        throw new UsageError(`${kebab(k)} ${v} differs from the run being resumed (${(prev as unknown as Record<string, unknown>)[k]}); only ${RESUMABLE_FLAGS.map(kebab).join(", ")} may change on --resume`);
      }
    }
    if (flags.out && path.resolve(flags.out) !== path.resolve(flags.resume)) {
      throw new UsageError(`--out and --resume name different directories; a resumed run continues in its own directory`);
    }
    // a new budget replaces the old one entirely
    if (patch.steps !== undefined || patch.epochs !== undefined || patch.time !== undefined) {
      prev.steps = 0; prev.epochs = 0; prev.time = 0;
    }
    cfg = { ...prev, ...patch, out: flags.resume, model: prev.model };
    if (corpusArgs.length) cfg.corpus = corpusArgs.map((p) => path.resolve(p));
  } else {
    if (corpusArgs.length === 0) throw new UsageError("no corpus given: rnn train FILE... (or --resume RUN)");
    const model: Partial<ModelConfig> = {};
    for (const k of MODEL_FLAGS) if (flags[k] !== undefined) (model as Record<string, unknown>)[k] = flags[k];
    const { out, resume: _r, force: _f, kernels: _k, json: _j, quiet: _q, cell: _c, layers: _l, hidden: _h, embed: _e, activation: _a, residual: _res, ...rest } = flags;
    cfg = resolveTrainConfig({ ...rest, forgetBias: flags.forgetBias ?? null, model, corpus: corpusArgs.map((p) => path.resolve(p)) } as Partial<TrainConfig>, {
      threads: threadsDefault,
      out: out ?? defaultOut(corpusArgs[0], (model.cell ?? "lstm") as string),
    });
    prepareOutDir(cfg.out, !!flags.force);
  }

  const present: Presenter = flags.json ? jsonPresenter() : flags.quiet ? quietPresenter() : humanPresenter({ tty: !!process.stdout.isTTY });
  const showRead = !flags.json && !flags.quiet && process.stderr.isTTY;
  const corpus = readCorpus(cfg.corpus, showRead ? (done, total) => {
    process.stderr.write(`\rreading corpus ${Math.round((100 * done) / total)}%`);
  } : undefined);
  if (showRead) process.stderr.write("\r\x1b[K");
  if (resumedVocab) {
    if (JSON.stringify(resumedVocab) !== JSON.stringify(corpus.vocab)) {
      throw new RnnError(`the corpus (${cfg.corpus.join(", ")}) has a different vocabulary from the run being resumed; resume on the same text`);
    }
  }
  cfg.model.vocabSize = corpus.vocab.length;
  const kernels = await selectKernels(flags.kernels);

  // Ctrl-C / SIGTERM: finish the current step, save, exit 130. A second one exits at once. The loop is
  // synchronous and gives signals a turn between steps: a second signal seen then exits straight away; once
  // the loop has stopped, the handlers are removed, so a signal during the final save gets the default action
  // (the shell reports 130). Checkpoints are written atomically: neither leaves a half-written file.
  let stop = false;
  const onSignal = () => {
    if (stop) process.exit(EXIT.interrupted);
    stop = true;
    if (!flags.json && !flags.quiet) process.stderr.write(chalk.yellow("\nstopping after this step (again to quit now)…\n"));
  };
  const stopping = () => {
    if (stop) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    return stop;
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const metrics = metricsWriter(cfg.out); // DIR/metrics.jsonl and DIR/loss.svg, refreshed at every evaluation
    const onEvent = (e: TrainEvent) => { present(e); metrics(e); };
    const end = await train({ cfg, vocab: corpus.vocab, ids: corpus.ids, kernels, onEvent, resume, shouldStop: stopping });
    if (end.reason === "interrupted") {
      if (!flags.json && !flags.quiet) process.stderr.write(`interrupted at step ${end.step}; saved ${path.join(cfg.out, LATEST)} (continue with --resume ${cfg.out})\n`);
      process.exitCode = EXIT.interrupted;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
