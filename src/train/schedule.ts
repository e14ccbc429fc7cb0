// The learning rate at each step, and the step budget it is laid out over. Pure functions of the config.
//
//   step (the default):  lr · f^⌊s / n⌋                                   (--lr-decay f every --lr-decay-every n)
//   cosine:              lr_min + (lr − lr_min) · ½(1 + cos(π · u(s)))
//                        u(s) = clamp((s − w) / (S − w), 0, 1)       the cosine's phase, 0 → 1
// and with --warmup w either one is multiplied by (s + 1)/w for s < w. s counts from 0 (the step about to be
// taken), S is the cosine's horizon (config.lrHorizon): the run's step budget when it started, so the rate
// reaches lr_min at the end of the budget (its last step, s = S − 1, still has a small positive rate).
//
// An auto-sized run re-plans S from its own speed as it goes (src/train/train.ts); each re-plan bends the
// phase rather than jumping it: config.lrBends lists [b, u_b], the step of each re-plan and the phase the
// schedule had reached there, and u runs linearly between the points (w, 0), (b₁, u₁) … (b_k, u_k), (S, 1).
// With no bends that is the line above, to the bit; the rate at a bend is the rate the old plan gave.
import type { TrainConfig } from "../config.ts";
import { UsageError } from "../errors.ts";

/** Learning rate at step `step` (0-based), from the config alone (the cosine's horizon is cfg.lrHorizon). */
export function lrAt(cfg: TrainConfig, step: number): number {
  let lr = cfg.lr;
  if (cfg.lrSchedule === "cosine") {
    const lo = cfg.lrMin ?? 0;
    lr = lo + (cfg.lr - lo) * 0.5 * (1 + Math.cos(Math.PI * cosinePhase(cfg, step)));
  } else if (cfg.lrDecayEvery > 0 && cfg.lrDecay !== 1) lr *= Math.pow(cfg.lrDecay, Math.floor(step / cfg.lrDecayEvery));
  if (cfg.warmup > 0 && step < cfg.warmup) lr *= (step + 1) / cfg.warmup;
  return lr;
}

/** The cosine's phase u at step `step`, in [0, 1]: linear from (w, 0) through each bend (config.lrBends) to (S, 1). */
export function cosinePhase(cfg: TrainConfig, step: number): number {
  const S = cfg.lrHorizon;
  if (S === undefined) throw new Error("lrAt: a cosine schedule needs config.lrHorizon (withLrHorizon sets it)");
  let b0 = cfg.warmup, u0 = 0; // the segment's start: (step, phase)
  for (const [b, u] of cfg.lrBends ?? []) {
    if (step < b) return Math.min(1, Math.max(0, u0 + ((u - u0) * (step - b0)) / (b - b0)));
    [b0, u0] = [b, u];
  }
  return S > b0 ? Math.min(1, Math.max(0, u0 + ((1 - u0) * (step - b0)) / (S - b0))) : 1;
}

/**
 * The config with the cosine re-planned at step `step` to end at step `steps` instead: the phase it had reached
 * there is kept (a bend in config.lrBends), so the rate runs on without a jump and spreads the rest of the
 * cosine over the new horizon. A re-plan before the phase has moved (inside the warmup) needs no bend.
 */
export function bendHorizon(cfg: TrainConfig, step: number, steps: number): TrainConfig {
  if (cfg.lrHorizon === undefined) return cfg;
  const u = cosinePhase(cfg, step);
  const bends = u > 0 && u < 1 && step < steps ? [...(cfg.lrBends ?? []), [step, u] as [number, number]] : cfg.lrBends;
  return { ...cfg, lrHorizon: steps, ...(bends ? { lrBends: bends } : {}) };
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
