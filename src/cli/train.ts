// `rnn train`: flags → config, corpus → ids, events → presenter, signals → a clean stop.
import path from "node:path";
import chalk from "chalk";
import { configFromSettings, mergeResume, MODEL_DEFAULTS, type TrainConfig, type TrainSettings } from "../config.ts";
import { readCorpus } from "../corpus/corpus.ts";
import { type CorpusFingerprint, describeChange } from "../corpus/fingerprint.ts";
import { RnnError, UsageError } from "../errors.ts";
import { selectKernels } from "../kernels/index.ts";
import { describeModel, loadModel, loadRunSettings, resumeConfig, settleRunState } from "../checkpoint/checkpoint.ts";
import { checkOutDir, checkRunDir, claimRunDir, defaultOut, LATEST } from "../run/dir.ts";
import { metricsWriter } from "../train/metrics.ts";
import { train, type TrainEvent } from "../train/train.ts";
import { everyCore, EXIT } from "./common.ts";
import { explainTrainingError, refuseBeyondLimits, refuseUselessFlags, threadsWarning } from "./train-checks.ts";
import type { FlagsOf } from "./options.ts";
import { humanPresenter, jsonPresenter, type Presenter, quietPresenter } from "./present.ts";

/** The flags of `rnn train`, as declared in options.ts. */
export type TrainFlags = FlagsOf<"train">;
/** The flags that are about this invocation, not the run: the rest are settings of its config. */
type InvocationFlags = "out" | "resume" | "force" | "kernels" | "json" | "quiet";
// compile-time: every other train flag is a config setting (TrainSettings), of the config's type
const everyFlagIsASetting: Exclude<keyof TrainFlags, InvocationFlags | keyof TrainSettings> extends never ? true : never = true;
void everyFlagIsASetting;


export async function trainCommand(corpusArgs: string[], flags: TrainFlags): Promise<void> {
  const { out, resume: resumeDir, force, kernels: _k, json: _j, quiet: _q, ...settings } = flags;
  let cfg: TrainConfig;
  let resume = false;
  let resumedVocab: string[] | null = null;
  let resumedText: CorpusFingerprint | null = null; // the fingerprint of the run's text (null: an older run, not checked)
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
    if (corpusArgs.length === 0) throw new UsageError("no corpus given: rnn train FILE... (or --resume RUN)");
    cfg = configFromSettings(settings, corpusArgs.map((p) => path.resolve(p)), {
      threads: everyCore(),
      out: out ?? defaultOut(corpusArgs[0], settings.cell ?? MODEL_DEFAULTS.cell),
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
  if (resumedVocab) {
    if (JSON.stringify(resumedVocab) !== JSON.stringify(corpus.vocab)) {
      throw new RnnError(`the corpus (${cfg.corpus.join(", ")}) has a different vocabulary from the run being resumed; resume on the same text`);
    }
    const changed = resumedText && describeChange(resumedText, corpus.fingerprint!, { paths: cfg.corpus, run: cfg.out });
    if (changed) throw new RnnError(changed);
  }
  cfg.model.vocabSize = corpus.vocab.length;
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
    const onEvent = (e: TrainEvent) => { present(e); metrics(e); };
    const end = await train({ cfg, vocab: corpus.vocab, ids: corpus.ids, kernels, onEvent, resume, shouldStop: stopping, fingerprint: corpus.fingerprint });
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
