// The learning rate at each step, and the step budget it is laid out over. Pure functions of the config.
//
//   step (the default):  lr · f^⌊s / n⌋                                   (--lr-decay f every --lr-decay-every n)
//   cosine:              lr_min + (lr − lr_min) · ½(1 + cos(π · clamp((s − w) / (S − w), 0, 1)))
// and with --warmup w either one is multiplied by (s + 1)/w for s < w. s counts from 0 (the step about to be
// taken), S is the cosine's horizon (config.lrHorizon): the run's step budget when it started, so the rate
// reaches lr_min at the end of the budget (its last step, s = S − 1, still has a small positive rate).
import type { TrainConfig } from "../config.ts";
import { UsageError } from "../errors.ts";

/** Learning rate at step `step` (0-based), from the config alone (the cosine's horizon is cfg.lrHorizon). */
export function lrAt(cfg: TrainConfig, step: number): number {
  let lr = cfg.lr;
  if (cfg.lrSchedule === "cosine") {
    const S = cfg.lrHorizon;
    if (S === undefined) throw new Error("lrAt: a cosine schedule needs config.lrHorizon (withLrHorizon sets it)");
    const w = cfg.warmup, lo = cfg.lrMin ?? 0;
    const progress = S > w ? Math.min(1, Math.max(0, (step - w) / (S - w))) : 1;
    lr = lo + (cfg.lr - lo) * 0.5 * (1 + Math.cos(Math.PI * progress));
  } else if (cfg.lrDecayEvery > 0 && cfg.lrDecay !== 1) lr *= Math.pow(cfg.lrDecay, Math.floor(step / cfg.lrDecayEvery));
  if (cfg.warmup > 0 && step < cfg.warmup) lr *= (step + 1) / cfg.warmup;
  return lr;
}

/** Steps the run may take in all: --steps, --epochs (the smaller when both), or null for --time alone. */
export function stepBudget(cfg: TrainConfig, epochSteps: number): number | null {
  const budget = cfg.steps > 0 ? cfg.steps : cfg.epochs > 0 ? cfg.epochs * epochSteps : 0;
  return budget > 0 ? (cfg.steps > 0 && cfg.epochs > 0 ? Math.min(cfg.steps, cfg.epochs * epochSteps) : budget) : null;
}

/**
 * The config with the cosine schedule's horizon fixed: a run that has one (a resumed run keeps the horizon it
 * started with, whatever budget it is given now) is returned as it is; otherwise the horizon is the step budget
 * (epochSteps: chunks per epoch, for --epochs). With --time alone there is none yet: refused in one line.
 */
export function withLrHorizon(cfg: TrainConfig, epochSteps: number): TrainConfig {
  if (cfg.lrSchedule !== "cosine" || cfg.lrHorizon !== undefined) return cfg;
  const S = stepBudget(cfg, epochSteps);
  if (S === null) {
    throw new UsageError(`--lr-schedule cosine needs a step budget to decay over: give --steps N or --epochs N (with --time alone the number of steps is not known in advance)`);
  }
  return { ...cfg, lrHorizon: S };
}
