// `rnn train`'s checks of the command line beyond each flag's own parser (issue 14): flags that would do
// nothing, sizes a checkpoint could not be loaded with, more threads than cores, and a model that does not fit
// in memory. Each is one line; the train command calls them (src/cli/train.ts).
import { type TrainConfig } from "../config.ts";
import { UsageError } from "../errors.ts";
import { describeModel } from "../checkpoint/checkpoint.ts";
import { LIMITS } from "../checkpoint/validate.ts";
import { isOutOfMemory, trainingTooLarge } from "../model/memory.ts";
import { paramSpec } from "../model/params.ts";
import { optimizerSpec } from "../train/optim.ts";
import type { TrainFlags } from "./train.ts";

/**
 * Flags that do nothing with the run's other settings are refused rather than silently ignored: --momentum
 * with an optimizer other than sgd; --lr-decay-every without --lr-decay (a factor of 1) and --lr-decay
 * without --lr-decay-every (no step at which to decay); --lr-min without --lr-schedule cosine. `flags` are the flags typed, `cfg` the effective config.
 */
export function refuseUselessFlags(flags: TrainFlags, cfg: TrainConfig): void {
  if (flags.momentum !== undefined && cfg.optimizer !== "sgd") {
    throw new UsageError(`--momentum applies to --optimizer sgd only (${cfg.optimizer} does not use it); drop --momentum, or use --optimizer sgd`);
  }
  if (flags.lrDecayEvery !== undefined && cfg.lrDecay === 1) {
    throw new UsageError(`--lr-decay-every ${flags.lrDecayEvery} does nothing without --lr-decay (the factor is 1): give --lr-decay F too, e.g. --lr-decay 0.5`);
  }
  if (flags.lrMin !== undefined && cfg.lrSchedule !== "cosine") {
    throw new UsageError(`--lr-min is the floor of --lr-schedule cosine (the ${cfg.lrSchedule ?? "step"} schedule does not use it): give --lr-schedule cosine too, or drop --lr-min`);
  }
  if (flags.lrDecay !== undefined && flags.lrDecay !== 1 && cfg.lrDecayEvery === 0) {
    throw new UsageError(`--lr-decay ${flags.lrDecay} does nothing without --lr-decay-every (the steps between decays): give --lr-decay-every N too`);
  }
}

/**
 * Sizes beyond what a checkpoint may hold (validate.ts's LIMITS) are refused before anything is written, so a
 * run never saves a checkpoint that rnn cannot load. The parameter count needs the vocabulary (cfg.model.vocabSize).
 */
export function refuseBeyondLimits(cfg: TrainConfig): void {
  const m = cfg.model;
  const over: [string, number, number][] = [
    ["--layers", m.layers, LIMITS.layers], ["--hidden", m.hidden, LIMITS.hidden], ["--embed", m.embed, LIMITS.embed],
    ["--batch", cfg.batch, LIMITS.batch], ["--seq", cfg.seq, LIMITS.seq], ["--threads", cfg.threads, LIMITS.threads],
  ];
  for (const [flag, v, max] of over) {
    if (v > max) throw new UsageError(`${flag} must be at most ${max.toLocaleString("en-US")} (the largest a checkpoint rnn loads may hold), got ${v}`);
  }
  if (m.vocabSize > 0) {
    const P = paramSpec(m).size;
    if (P > LIMITS.params) {
      throw new UsageError(
        `the model (${describeModel(m)}) has ${P.toLocaleString("en-US")} parameters, more than a checkpoint rnn loads may hold ` +
          `(${LIMITS.params.toLocaleString("en-US")}): lower --hidden${m.layers > 1 ? " or --layers" : ""}${m.embed > 0 ? " or --embed" : ""}`,
      );
    }
  }
}

/** One line when --threads asks for more threads than this machine has cores (null otherwise). */
export function threadsWarning(flags: TrainFlags, cores: number): string | null {
  const t = flags.threads;
  if (t === undefined || t <= cores) return null;
  return `--threads ${t} is more than the ${cores} core${cores === 1 ? "" : "s"} here: the threads take turns (slower, not faster); the results depend on --threads, so keep it to compare runs`;
}

/** A failed allocation while training, as the one line that names the setting to lower; other errors as they are. */
export function explainTrainingError(err: unknown, cfg: TrainConfig): unknown {
  if (!isOutOfMemory(err)) return err;
  const slots = optimizerSpec(cfg, 1).tensors.length;
  return trainingTooLarge(cfg.model, { batch: cfg.batch, seq: cfg.seq, slots, describe: describeModel(cfg.model) }, err);
}
