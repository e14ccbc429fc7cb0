// `rnn train CORPUS --time D` alone (issue 13): when a run is auto-sized, measuring this machine's speed,
// applying src/train/autosize.ts's rule to the config, and saying what was chosen before training starts.
import chalk from "chalk";
import { configFromSettings, type TrainConfig, type TrainSettings } from "../config.ts";
import { UsageError } from "../errors.ts";
import { calibrate, calibrationOf } from "../bench/bench.ts";
import { selectKernels } from "../kernels/index.ts";
import { AUTOSIZE, type BudgetChoice, chooseForBudget, ruleOf } from "../train/autosize.ts";
import type { TrainFlags } from "./train.ts";

/**
 * Whether this invocation is auto-sized: a new run (not --resume, --init-from, --config or --like) given
 * --time and neither --steps nor --epochs, without --no-auto-size. --no-auto-size (or the tests'
 * --auto-size-speed) where nothing would be auto-sized is refused: it would do nothing.
 */
export function autoSizes(flags: TrainFlags): boolean {
  const { autoSize, autoSizeSpeed } = flags;
  const startsFrom = flags.resume ? "--resume" : flags.initFrom ? "--init-from" : flags.config ? "--config" : flags.like ? "--like" : null;
  const why = startsFrom ? `a run given ${startsFrom} is never auto-sized`
    : flags.time === undefined ? "only a run given --time is auto-sized"
    : flags.steps !== undefined || flags.epochs !== undefined ? `--${flags.steps !== undefined ? "steps" : "epochs"} fixes the budget: the run is not auto-sized`
    : null;
  if (why && (autoSize === false || autoSizeSpeed !== undefined)) {
    throw new UsageError(`${autoSize === false ? "--no-auto-size" : "--auto-size-speed"} does nothing here: ${why} (a new run given --time without --steps or --epochs is)`);
  }
  if (autoSize === false && autoSizeSpeed !== undefined) throw new UsageError("--auto-size-speed and --no-auto-size contradict each other: drop one");
  return why === null && autoSize !== false;
}

export interface AutoSized {
  cfg: TrainConfig;
  choice: BudgetChoice;
  /** the calibration's account: what was measured (or given), and the seconds it took */
  reference: string;
  spent: number;
}

/**
 * The config of an auto-sized run: the speed measured (or `speed`, the reference's chars/s, given), the rule
 * applied to the corpus of `corpusChars` characters and V = cfg.model.vocabSize, and the config rebuilt from
 * the settings given with the chosen ones beneath them: steps = the horizon, time = the budget less the
 * measurement, and the autoSize record. `given` are the settings given on the command line.
 */
export async function autoSizeConfig(cfg: TrainConfig, given: Partial<TrainSettings>, corpusChars: number, opts: { kernels: TrainFlags["kernels"]; speed?: number; showProgress: boolean }): Promise<AutoSized> {
  const budget = cfg.time, V = cfg.model.vocabSize;
  if (opts.showProgress) process.stderr.write("measuring this machine's training speed for --time…");
  const cal = opts.speed !== undefined
    ? calibrationOf(opts.speed, V, "given as")
    : await calibrate({ kernels: () => selectKernels(opts.kernels), threads: cfg.threads, vocabSize: V, seconds: Math.min(AUTOSIZE.CALIBRATE_SECONDS, AUTOSIZE.CALIBRATE_SHARE * budget) });
  if (opts.showProgress) process.stderr.write("\r\x1b[K");
  const choice = chooseForBudget({
    budget, spent: cal.seconds, corpusChars, vocabSize: V, threads: cfg.threads, speedOf: cal.speedOf, given, measured: cal.reference,
  });
  const next = configFromSettings({ ...given, ...choice.settings, time: choice.time }, cfg.corpus, { threads: cfg.threads, out: cfg.out });
  next.model.vocabSize = V;
  next.autoSize = {
    budget, charsPerSec: Number(choice.charsPerSec.toPrecision(4)), reference: cal.reference, rule: ruleOf(),
    ...(choice.settings.ema !== undefined ? { emaShare: AUTOSIZE.EMA_SHARE } : {}), // chosen by the rule, not given
  };
  return { cfg: next, choice, reference: cal.reference, spent: cal.seconds };
}

/** The choice, printed before training: lines on stderr, or (--json) one "autosize" event on stdout; nothing with --quiet. */
export function reportAutoSize(a: AutoSized, mode: { json?: boolean; quiet?: boolean }): void {
  if (mode.json) {
    const { choice, cfg } = a;
    const event = {
      type: "autosize", budget: cfg.autoSize!.budget, spent: a.spent, reference: a.reference, charsPerSec: cfg.autoSize!.charsPerSec,
      chosen: choice.settings, steps: choice.steps, time: choice.time, evalEvery: choice.evalEvery, valFrac: choice.valFrac, rule: cfg.autoSize!.rule, lines: choice.lines,
    };
    process.stdout.write(`${JSON.stringify(event)}\n`);
  } else if (!mode.quiet) {
    const [first, ...rest] = a.choice.lines;
    process.stderr.write(`${chalk.bold(first)}\n${rest.map((l) => `${l.startsWith("→") ? chalk.cyan(l) : chalk.dim(l)}\n`).join("")}`);
  }
}
