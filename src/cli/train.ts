// `rnn train`: flags → config, corpus → ids, events → presenter, signals → a clean stop.
import path from "node:path";
import chalk from "chalk";
import { configFromSettings, flagOf, mergeResume, MODEL_DEFAULTS, MODEL_FIELDS, modelValue, type TrainConfig, type TrainSettings } from "../config.ts";
import { readCorpus } from "../corpus/corpus.ts";
import { type CorpusFingerprint, describeChange } from "../corpus/fingerprint.ts";
import { RnnError, UsageError } from "../errors.ts";
import { selectKernels } from "../kernels/index.ts";
import { describeModel, type LoadedModel, loadModel, loadRunSettings, resumeConfig, settleRunState } from "../checkpoint/checkpoint.ts";
import { checkOutDir, checkRunDir, claimRunDir, defaultOut, LATEST } from "../run/dir.ts";
import { remapIds, unionVocab } from "../train/finetune.ts";
import { metricsWriter } from "../train/metrics.ts";
import { samplesWriter } from "../train/samples.ts";
import { train, type TrainEvent, type TrainInput } from "../train/train.ts";
import { everyCore, EXIT } from "./common.ts";
import { type BaseSettings, settingsFromConfigFile, settingsFromRun } from "./configfile.ts";
import { explainTrainingError, refuseBeyondLimits, refuseUselessFlags, threadsWarning } from "./train-checks.ts";
import { autoSizeConfig, autoSizes, reportAutoSize } from "./train-autosize.ts";
import type { FlagsOf } from "./options.ts";
import { humanPresenter, jsonPresenter, type Presenter, quietPresenter } from "./present.ts";

/** The flags of `rnn train`, as declared in options.ts. */
export type TrainFlags = FlagsOf<"train">;
/** The flags that are about this invocation, not the run: the rest are settings of its config. */
type InvocationFlags = "out" | "resume" | "force" | "kernels" | "json" | "quiet" | "config" | "like" | "autoSize" | "autoSizeSpeed";
// compile-time: every other train flag is a config setting (TrainSettings), of the config's type
const everyFlagIsASetting: Exclude<keyof TrainFlags, InvocationFlags | keyof TrainSettings> extends never ? true : never = true;
void everyFlagIsASetting;


export async function trainCommand(corpusArgs: string[], flags: TrainFlags): Promise<void> {
  const { out, resume: resumeDir, force, kernels: _k, json: _j, quiet: _q, config: configFile, like, autoSize: _a, autoSizeSpeed, ...settings } = flags;
  let cfg: TrainConfig;
  let resume = false;
  let resumedVocab: string[] | null = null;
  let resumedText: CorpusFingerprint | null = null; // the fingerprint of the run's text (null: an older run, not checked)
  let init: LoadedModel | null = null;
  const autoSizing = autoSizes(flags); // --time alone: the model and schedule are chosen once the corpus is read
  if (configFile && like) throw new UsageError("--config and --like both give the settings of the new run: use one of them (flags override it)");
  const startsNew = configFile ? "--config" : like ? "--like" : settings.initFrom ? "--init-from" : null;
  if (resumeDir && startsNew) {
    throw new UsageError(`${startsNew} starts a new run, --resume continues one with its own settings: give one of them`);
  }
  if (resumeDir) {
    resume = true;
    checkRunDir(resumeDir);
    const loaded = loadModel(resumeDir, (await selectKernels("ref")));
    resumedVocab = loaded.meta.vocab;
    // the run's config: its state's (budget included; a model checkpoint holds none), in the directory given
    const stored = loadRunSettings(resumeDir, loaded.meta.step);
    resumedText = stored?.fingerprint ?? null;
    cfg = mergeResume(resumeConfig(loaded.meta.config, stored?.config ?? null, resumeDir), settings, describeModel);
    if (out && path.resolve(out) !== path.resolve(resumeDir)) {
      throw new UsageError(`--out and --resume name different directories; a resumed run continues in its own directory`);
    }
    cfg.out = resumeDir;
    if (corpusArgs.length) cfg.corpus = corpusArgs.map((p) => path.resolve(p));
  } else {
    const base = configFile ? settingsFromConfigFile(configFile) : like ? settingsFromRun(like) : null;
    let merged = base ? overrideSettings(base.settings, settings) : settings;
    const corpusPaths = corpusArgs.length ? corpusArgs.map((p) => path.resolve(p)) : base?.corpus ?? [];
    if (corpusPaths.length === 0) throw new UsageError(`no corpus given: rnn train FILE...${base ? ` (${base.source} names none)` : " (or --resume RUN)"}`);
    if (merged.initFrom) {
      init = await loadInitFrom(merged.initFrom);
      merged = { ...merged, ...architectureOf(init, merged, base, settings), initFrom: path.resolve(init.path) };
    }
    // auto-sized, the rule chooses the dropout that --dropout-mode applies to (none: the mode is dropped, and said)
    const modeWaits = autoSizing && merged.dropoutMode === "locked" && merged.dropout === undefined;
    cfg = configFromSettings(modeWaits ? { ...merged, dropoutMode: undefined } : merged, corpusPaths, {
      threads: everyCore(),
      out: out ?? base?.out ?? defaultOut(corpusPaths[0], merged.cell ?? MODEL_DEFAULTS.cell),
    });
    checkOutDir(cfg.out, !!force); // fails fast; checked again, and --force's files removed, once it is locked (claimRunDir)
  }
  refuseUselessFlags(flags, cfg);
  refuseBeyondLimits(cfg);

  const present: Presenter = flags.json ? jsonPresenter() : flags.quiet ? quietPresenter() : humanPresenter({ tty: !!process.stdout.isTTY });
  const showRead = !flags.json && !flags.quiet && process.stderr.isTTY;
  const corpus = readCorpus(cfg.corpus, showRead ? (done, total) => {
    process.stderr.write(`\rreading corpus ${Math.round((100 * done) / total)}%`);
  } : undefined, { fingerprint: true });
  if (showRead) process.stderr.write("\r\x1b[K");
  let vocab = corpus.vocab, ids = corpus.ids;
  let initFrom: TrainInput["initFrom"];
  if (resumedVocab) {
    if (cfg.initFrom) {
      // a fine-tuned run's vocabulary is the union of its model's and its text's: the text's must be in it
      const known = new Set(resumedVocab);
      if (!corpus.vocab.every((c) => known.has(c))) {
        throw new RnnError(`the corpus (${cfg.corpus.join(", ")}) has characters the run being resumed never saw; resume on the same text`);
      }
      ids = remapIds(ids, corpus.vocab, resumedVocab);
      vocab = resumedVocab;
    } else if (JSON.stringify(resumedVocab) !== JSON.stringify(corpus.vocab)) {
      throw new RnnError(`the corpus (${cfg.corpus.join(", ")}) has a different vocabulary from the run being resumed; resume on the same text`);
    }
    const changed = resumedText && describeChange(resumedText, corpus.fingerprint!, { paths: cfg.corpus, run: cfg.out });
    if (changed) throw new RnnError(changed);
  } else if (init) {
    const u = unionVocab(init.meta.vocab, corpus.vocab);
    ids = remapIds(ids, corpus.vocab, u.vocab);
    vocab = u.vocab;
    initFrom = { path: init.path, step: init.meta.step, model: init.model, vocab: init.meta.vocab, added: u.added };
  }
  cfg.model.vocabSize = vocab.length;
  if (autoSizing) {
    const sized = await autoSizeConfig(cfg, settings, ids.length, { kernels: flags.kernels, speed: autoSizeSpeed, showProgress: showRead });
    cfg = sized.cfg;
    reportAutoSize(sized, flags);
  }
  refuseBeyondLimits(cfg); // the parameter count, now that the vocabulary is known
  const kernels = await selectKernels(flags.kernels);
  const manyThreads = threadsWarning(flags, everyCore());
  if (manyThreads && !flags.quiet) process.stderr.write(`${chalk.yellow("rnn: warning:")} ${manyThreads}\n`);

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
  // one trainer per run directory, from here to the end (a new run's directory is made here)
  const claim = claimRunDir(cfg.out, resume ? "resume" : force ? "force" : "new");
  if (resume) settleRunState(cfg.out); // a stale next.state of a failed save goes
  let failed = true;
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const metrics = metricsWriter(cfg.out); // DIR/metrics.jsonl and DIR/loss.svg, refreshed at every evaluation
    const samples = samplesWriter(cfg.out); // DIR/samples.jsonl, with --sample-every
    const onEvent = (e: TrainEvent) => { present(e); metrics(e); samples(e); };
    const end = await train({ cfg, vocab, ids, kernels, onEvent, resume, initFrom, shouldStop: stopping, fingerprint: corpus.fingerprint });
    if (end.reason === "interrupted") {
      if (!flags.json && !flags.quiet) process.stderr.write(`interrupted at step ${end.step}; saved ${path.join(cfg.out, LATEST)} (continue with --resume ${cfg.out})\n`);
      process.exitCode = EXIT.interrupted;
    }
    failed = false;
  } catch (e) {
    throw explainTrainingError(e, cfg); // out of memory: which setting to lower
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    claim.release(failed);
  }
}

/** The settings of a config file or another run with the flags given on top: a budget given replaces the file's. */
function overrideSettings(base: Partial<TrainSettings>, given: Partial<TrainSettings>): Partial<TrainSettings> {
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<TrainSettings>;
  const budget = defined.steps !== undefined || defined.epochs !== undefined || defined.time !== undefined;
  const { steps: _s, epochs: _e, time: _t, ...rest } = base;
  return { ...(budget ? rest : base), ...defined };
}

/** --init-from's checkpoint: a run directory (its latest) or a .safetensors file, with messages naming the flag. */
async function loadInitFrom(p: string): Promise<LoadedModel> {
  return loadModel(p, await selectKernels("ref"), "--init-from");
}

/**
 * A fine-tuned model's architecture is its checkpoint's: the model settings given (by a flag, or by the config
 * file or run the settings come from) must agree with it, one line naming the first that does not.
 */
function architectureOf(init: LoadedModel, merged: Partial<TrainSettings>, base: BaseSettings | null, given: Partial<TrainSettings>): Partial<TrainSettings> {
  const m = init.meta.config.model;
  for (const k of MODEL_FIELDS) {
    const v = merged[k];
    if (v === undefined || modelValue(k, v) === m[k]) continue;
    const who = given[k] !== undefined ? `${flagOf(k)} ${v}` : `${k} ${v} in ${base?.source}`;
    throw new UsageError(`${who} contradicts the model of --init-from ${init.path} (${describeModel(m)}): a fine-tuned model keeps its architecture; drop it`);
  }
  return Object.fromEntries(MODEL_FIELDS.map((k) => [k, m[k]]));
}
