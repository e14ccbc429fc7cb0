// `rnn train CORPUS --time D` with no --steps or --epochs (issue 13): the model, batch, sequence length,
// dropout, learning-rate schedule and step horizon for that budget, that corpus and this machine's speed.
// Pure: no I/O, no printing. The speed comes in as a function (src/bench/bench.ts's calibrate measures a
// reference workload and scales it by FLOPs), the explanation goes out as lines that src/cli/ prints.
//
// The rule, all of whose constants are AUTOSIZE below (retune them there; nothing else changes):
//  1. Model: the largest rung of LADDER whose characters processable in the budget (speed × usable seconds ×
//     SAFETY) make at least its minSteps steps of B·T and reach CHARS_PER_PARAM × its parameter count, and whose
//     parameter count is at most PARAMS_PER_CHAR × the training characters; the first rung when none qualifies.
//  2. Horizon: steps = ⌊speed × usable seconds × SAFETY / (B·T)⌋ (SAFETY leaves room for validation,
//     checkpoints and a slower moment). The run stops at the horizon or at --time, whichever comes first.
//  3. Dropout: DROPOUT_BY_EPOCHS for the passes over the training text the horizon makes, at most the rung's.
//  4. Learning rate: the rung's, on a cosine (--lr-schedule cosine) from it down to LR_END × itself (--lr-min)
//     at the horizon. Normalisation and optimizer: the rung's --norm, and AdamW with its weight decay where it
//     has one (--optimizer adamw --weight-decay w; Adam where 0).
//  5. Weight averaging: an exponential moving average of the weights is the model (--ema D, src/train/average.ts),
//     its time constant 1/(1 − D) = EMA_SHARE × the horizon; --ema or --ortho-opt given keeps the rule's hands off.
//  6. Validation: valFrac = min(VAL_FRAC_MAX, VAL_CHARS / corpus characters) — 0 as tuned: a budgeted run
//     trains on every character (the split is the corpus's end, and losing it cost 0.11 nats/char on
//     tiny-shakespeare's held-out file, docs/quality.md); --val-frac given keeps a split — evalEvery =
//     max(EVAL_MIN, horizon / EVALS).
//  7. Calibration: the first min(CALIBRATION_FRAC_MAX, CALIBRATION_CHARS / corpus characters) of the corpus are
//     held out (--calibrate F) and the final model's softmax temperature is fitted on them (src/eval/calibrate.ts):
//     the long runs' models are overconfident on unseen text; a corpus whose share would be under
//     CALIBRATION_MIN_CHARS characters is not calibrated. --calibrate given (0: off) keeps the rule's hands off.
// "Usable seconds" are the budget less what measuring the speed took: --time is the whole wall clock.
// Settings given explicitly always win. A given --hidden fixes the model's width: the rung of the nearest
// width supplies the rest (batch, seq, lr, dropout cap), nothing is walked. The other shape settings given
// (--layers, --cell, --embed, --batch, --seq, --no-forget-gate, --norm) apply to every rung before the walk;
// --optimizer or --weight-decay given keeps the rule's hands off both.
import { type CellKind, flagOf, MODEL_DEFAULTS, type ModelConfig, type NormKind, type TrainSettings } from "../config.ts";
import { duration, human } from "../format.ts";
import { paramSpec } from "../model/params.ts";

/** A candidate of the ladder: a model shape, its batch and chunk, and the hyper-parameters that go with it. */
export interface Rung {
  cell: CellKind;
  layers: number;
  hidden: number;
  /** B, T */
  batch: number;
  seq: number;
  /** the peak learning rate (the schedule decays from it) */
  lr: number;
  /** the most dropout this rung gets (DROPOUT_BY_EPOCHS gives the amount; a small model needs less) */
  dropout: number;
  /** --norm ("none": no normalisation) */
  norm: NormKind | "none";
  /** AdamW's decoupled weight decay (--optimizer adamw --weight-decay w); 0: Adam, no decay */
  weightDecay: number;
  /** its measured speed relative to the FLOP count's prediction from the reference workload (1 = as predicted;
   *  NORM_SPEED more where it is normalised) */
  efficiency: number;
  /** the fewest steps the budget must buy it (a wider model needs more updates before it beats a narrower one) */
  minSteps: number;
}

// ──────────────────────────────────────────────────────────────────────────────────────────────────────────
// THE TABLE: every constant of the rule. Placeholders until the sweep fixes them (docs/quality.md).
// ──────────────────────────────────────────────────────────────────────────────────────────────────────────
export const AUTOSIZE = {
  /** the candidates, smallest first */
  LADDER: [
    { cell: "lstm", layers: 2, hidden: 128, batch: 50, seq: 50, lr: 1e-2, dropout: 0, norm: "layer", weightDecay: 0, efficiency: 0.9, minSteps: 3000 },
    { cell: "lstm", layers: 2, hidden: 256, batch: 50, seq: 50, lr: 6e-3, dropout: 0.3, norm: "layer", weightDecay: 0.1, efficiency: 1, minSteps: 1200 },
    { cell: "lstm", layers: 2, hidden: 320, batch: 50, seq: 50, lr: 5e-3, dropout: 0.35, norm: "layer", weightDecay: 0.1, efficiency: 1, minSteps: 4000 },
    { cell: "lstm", layers: 2, hidden: 384, batch: 50, seq: 50, lr: 4e-3, dropout: 0.4, norm: "layer", weightDecay: 0.1, efficiency: 1, minSteps: 5500 },
    { cell: "lstm", layers: 2, hidden: 512, batch: 50, seq: 50, lr: 3e-3, dropout: 0.4, norm: "layer", weightDecay: 0.1, efficiency: 1, minSteps: 6000 },
  ] as readonly Rung[],
  /** a rung qualifies when the budget lets it take at least its minSteps steps … and see at least this many
   *  characters per parameter */
  CHARS_PER_PARAM: 2,
  /** … and has at most this many parameters per training character (small corpora get small models) */
  PARAMS_PER_CHAR: 4,
  /** the share of the usable seconds the horizon plans for */
  SAFETY: 0.93,
  /** a normalised shape's speed relative to the FLOP count's prediction, which counts the matrix products only
   *  (--norm layer measured 6–8% slower per step on 2×256, docs/quality.md) */
  NORM_SPEED: 0.93,
  /** dropout by the epochs the horizon covers: the first row whose `epochs` is at least that many */
  DROPOUT_BY_EPOCHS: [
    { epochs: 1, dropout: 0 },
    { epochs: 3, dropout: 0.1 },
    { epochs: 8, dropout: 0.2 },
    { epochs: Infinity, dropout: 0.4 },
  ] as readonly { epochs: number; dropout: number }[],
  /** the weights' moving average (--ema D): its time constant in steps, 1/(1 − D), as a share of the horizon
   *  (0: no averaging) */
  EMA_SHARE: 0.15,
  /** the learning rate at the horizon (the cosine's floor, --lr-min), as a fraction of the peak */
  LR_END: 0.05,
  /** validation: at most this fraction of the corpus, and no more characters than VAL_CHARS (0: none; the
   *  held-out split is the corpus's end, and training on it is worth more than watching it) */
  VAL_FRAC_MAX: 0,
  VAL_CHARS: 20_000,
  /** calibration (--calibrate): the corpus's first CALIBRATION_CHARS characters, at most CALIBRATION_FRAC_MAX of
   *  it, held out to fit the final model's temperature; none when that is under CALIBRATION_MIN_CHARS */
  CALIBRATION_CHARS: 20_000,
  CALIBRATION_FRAC_MAX: 0.02,
  CALIBRATION_MIN_CHARS: 2_000,
  /** about EVALS validations over the horizon, at least EVAL_MIN steps apart */
  EVALS: 10,
  EVAL_MIN: 50,
  /** the workload timed to measure the speed (src/bench/bench.ts's calibrate), and for how long: at most
   *  CALIBRATE_SECONDS, at most CALIBRATE_SHARE of the budget (after a few warm-up steps) */
  REFERENCE: { cell: "lstm", layers: 2, hidden: 256, batch: 50, seq: 50 } as { cell: CellKind; layers: number; hidden: number; batch: number; seq: number },
  CALIBRATE_SECONDS: 1,
  CALIBRATE_SHARE: 0.02,
  /** the horizon is planned again from the run's own speed, first after REPLAN_SHARE of its time (at least
   *  REPLAN_MIN_SECONDS): a second of measuring can catch the machine in a burst or a lull (11.4k chars/s
   *  measured, 7.7k sustained, on a shared 2-core machine: the clock would have stopped the run at 72% of its
   *  cosine, well above the floor) … */
  REPLAN_SHARE: 0.03,
  REPLAN_MIN_SECONDS: 10,
  /** … and again every REPLAN_EVERY of it (at least REPLAN_MIN_SECONDS apart), from the speed since the last
   *  plan, while less than REPLAN_UNTIL of the time has gone: a shared machine's speed drifts through a run
   *  (after one plan at 3%, an hour sped up by 22% and ended 14 minutes early, and another slowed by 13% and was
   *  stopped by the clock at 94% of its cosine) */
  REPLAN_EVERY: 0.1,
  REPLAN_UNTIL: 0.95,
  /** the share of what the rest of the time buys at that speed that a re-plan plans for (the speed measured
   *  includes the run's validations and checkpoints; later plans correct what this one gets wrong) */
  REPLAN_SAFETY: 0.97,
};

// ── the horizon planned again from the run's own speed (src/train/train.ts calls these) ─────────────────────

/** seconds into an auto-sized run at which its horizon is first planned again from its own speed (a budget
 *  shorter than that is not planned again: train.ts plans only while time is left) */
export const replanAfter = (time: number, t = AUTOSIZE) => Math.max(t.REPLAN_MIN_SECONDS, t.REPLAN_SHARE * time);

/** seconds into the run of the plan after one made at `elapsed`: Infinity once REPLAN_UNTIL of the time has gone */
export function replanNext(elapsed: number, time: number, t = AUTOSIZE): number {
  const next = elapsed + Math.max(t.REPLAN_MIN_SECONDS, t.REPLAN_EVERY * time);
  return next < t.REPLAN_UNTIL * time ? next : Infinity;
}

/** the steps a second the run kept from `since` (the last plan, or its start) to step `step` at second `elapsed` */
export const stepsPerSecond = (step: number, since: { step: number; elapsed: number }, elapsed: number) =>
  (step - since.step) / Math.max(elapsed - since.elapsed, 1e-9);

/** The steps the run can take in all at the speed it kept since `since` (the last plan, or its start): those
 *  taken, and REPLAN_SAFETY × what the rest of its time buys at that speed (at least one more). */
export function replanHorizon(o: { step: number; since: { step: number; elapsed: number }; elapsed: number; time: number }, t = AUTOSIZE): number {
  const perSecond = stepsPerSecond(o.step, o.since, o.elapsed);
  return o.step + Math.max(1, Math.floor(perSecond * Math.max(0, o.time - o.elapsed) * t.REPLAN_SAFETY));
}

// ── where a cosine schedule plugs in ─────────────────────────────────────────────────────────────────────
// The schedule is a cosine from lr to lrMin = lr × LR_END over the horizon (src/train/schedule.ts). Any of
// SCHEDULE_FIELDS given on the command line keeps the rule's hands off the schedule.
const SCHEDULE_FIELDS = ["lrDecay", "lrDecayEvery", "lrSchedule", "lrMin"] as const;
/** Either of these given keeps the rule's hands off the optimizer (its decay means nothing without its rule). */
const OPTIMIZER_FIELDS = ["optimizer", "weightDecay"] as const;

/** The shape settings a user may fix: kept, and applied to every rung. */
const SHAPE_FIELDS = ["cell", "layers", "hidden", "embed", "forgetGate", "norm", "batch", "seq"] as const satisfies readonly (keyof TrainSettings)[];

/** What the speed function is asked about: a model (V included), its batch and chunk, its rung's efficiency. */
export interface Shape {
  model: ModelConfig;
  batch: number;
  seq: number;
  efficiency: number;
}

export interface BudgetInput {
  /** seconds: the --time given */
  budget: number;
  /** seconds of it already spent (measuring the speed) */
  spent: number;
  /** characters of the whole corpus (training and validation) */
  corpusChars: number;
  /** V */
  vocabSize: number;
  threads: number;
  /** training characters per second of a shape on this machine (measured or estimated) */
  speedOf: (s: Shape) => number;
  /** the settings given explicitly: they win */
  given: Partial<TrainSettings>;
  /** how the speed was found, for the first line ("lstm 2×256 B50 T50 measured at 17.1k chars/s") */
  measured: string;
}

export interface BudgetChoice {
  /** every setting the rule sets (none of those given): model shape, batch, seq, lr, dropout, schedule,
   *  valFrac, evalEvery, and `steps`, the horizon */
  settings: Partial<TrainSettings>;
  /** the step horizon, the validation cadence and split, given or chosen */
  steps: number;
  evalEvery: number;
  valFrac: number;
  /** seconds: the budget less what was spent, the run's --time */
  time: number;
  /** the chosen config's speed, from which the horizon was computed */
  charsPerSec: number;
  /** the choice explained, one line each */
  lines: string[];
}

/** The rule with its constants, in one line (stored in the checkpoint with the choice). */
export function ruleOf(t = AUTOSIZE): string {
  const epochs = t.DROPOUT_BY_EPOCHS.map((r) => `${Number.isFinite(r.epochs) ? `≤${r.epochs}` : "more"}: ${r.dropout}`).join(", ");
  const extras = (r: Rung) => `${r.norm !== "none" ? ` ${r.norm} norm` : ""}${r.weightDecay > 0 ? ` adamw ${num(r.weightDecay)}` : ""}`;
  return `largest of ${t.LADDER.map((r) => `${label(r)} B${r.batch} T${r.seq} lr ${num(r.lr)}${extras(r)}`).join(", ")} seeing ≥ ${t.CHARS_PER_PARAM} chars/param, ≤ ${t.PARAMS_PER_CHAR} params/char; ` +
    `safety ${t.SAFETY}; dropout by epochs ${epochs}; min steps ${minStepsOf(t)}; cosine lr to ×${t.LR_END}` +
    (t.EMA_SHARE > 0 ? `; weights averaged over ${t.EMA_SHARE} of the horizon` : "") +
    (t.CALIBRATION_CHARS > 0 ? `; temperature fitted on the first ${t.CALIBRATION_CHARS} chars (≤ ${t.CALIBRATION_FRAC_MAX}, ≥ ${t.CALIBRATION_MIN_CHARS})` : "") +
    `; horizon re-planned from the run's speed at ${t.REPLAN_SHARE} of the time, then every ${t.REPLAN_EVERY} until ${t.REPLAN_UNTIL} (safety ${t.REPLAN_SAFETY})`;
}

const label = (r: { cell: string; layers: number; hidden: number }) => `${r.cell} ${r.layers}×${r.hidden}`;
/** the rungs' minimum steps, "3000/1200/4000/5500/6000" */
const minStepsOf = (t: typeof AUTOSIZE) => t.LADDER.map((r) => r.minSteps).join("/");
/** 0.0020000000000000005 → "2e-3", 0.79432 → "0.794" */
const num = (x: number) => (x !== 0 && Math.abs(x) < 1e-2 ? Number(x.toPrecision(3)).toExponential() : String(Number(x.toPrecision(3))));

export function chooseForBudget(inp: BudgetInput, t = AUTOSIZE): BudgetChoice {
  const { given } = inp;
  const usable = Math.max(0, inp.budget - inp.spent);
  const valFrac = given.valFrac ?? Number(Math.min(t.VAL_FRAC_MAX, t.VAL_CHARS / Math.max(1, inp.corpusChars)).toPrecision(2));
  const calibrate = given.calibrate ?? calibrateFor(inp.corpusChars, t);
  const calibChars = Math.floor(inp.corpusChars * calibrate);
  const trainChars = inp.corpusChars - Math.floor(inp.corpusChars * valFrac) - calibChars;
  const shapes = t.LADDER.map((r) => shapeOf(r, given, inp.vocabSize, trainChars, t));
  const chars = (s: Shape) => inp.speedOf(s) * usable * t.SAFETY; // characters the budget lets it see
  const params = shapes.map((s) => paramSpec(s.model).size);
  const qualifies = (i: number) =>
    chars(shapes[i]) >= t.LADDER[i].minSteps * shapes[i].batch * shapes[i].seq && chars(shapes[i]) >= t.CHARS_PER_PARAM * params[i] && params[i] <= t.PARAMS_PER_CHAR * trainChars;

  // 1. the rung: the nearest width to a given --hidden, else the largest that qualifies
  let at = 0;
  if (given.hidden !== undefined) {
    const far = (r: Rung) => Math.abs(Math.log(r.hidden / given.hidden!));
    t.LADDER.forEach((r, i) => { if (far(r) < far(t.LADDER[at])) at = i; });
  } else {
    for (let i = 0; i < shapes.length; i++) if (qualifies(i)) at = i;
  }
  const rung = t.LADDER[at], shape = shapes[at];
  const B = shape.batch, T = shape.seq;

  // 2. the horizon; 3. dropout; 4. the schedule; 5. validation
  const charsPerSec = inp.speedOf(shape);
  const steps = Math.max(1, Math.floor((charsPerSec * usable * t.SAFETY) / (B * T)));
  const epochs = (steps * B * T) / Math.max(1, trainChars);
  const byEpochs = t.DROPOUT_BY_EPOCHS.find((r) => epochs <= r.epochs)?.dropout ?? 0;
  const dropout = given.dropout ?? Math.min(rung.dropout, byEpochs);
  const lr = given.lr ?? rung.lr;
  const ownSchedule = SCHEDULE_FIELDS.some((k) => (given as Record<string, unknown>)[k] !== undefined);
  const sched = ownSchedule ? {} : schedule(lr, t);
  const ownOptimizer = OPTIMIZER_FIELDS.some((k) => given[k] !== undefined);
  const optim = ownOptimizer || rung.weightDecay === 0 ? {} : { optimizer: "adamw" as const, weightDecay: rung.weightDecay };
  const evalEvery = given.evalEvery ?? Math.max(t.EVAL_MIN, Math.round(steps / t.EVALS));
  const ema = given.ema ?? (given.orthoOpt !== undefined && given.orthoOpt !== "none" ? 0 : emaFor(steps, t.EMA_SHARE));

  const chosen: Partial<TrainSettings> = {
    cell: shape.model.cell, layers: shape.model.layers, hidden: shape.model.hidden, norm: shape.model.norm ?? "none", batch: B, seq: T,
    lr, dropout, ...optim, ...sched, ...(ema > 0 ? { ema } : {}), ...(calibrate > 0 ? { calibrate } : {}), valFrac, evalEvery, steps,
  };
  const settings = Object.fromEntries(Object.entries(chosen).filter(([k]) => (given as Record<string, unknown>)[k] === undefined)) as Partial<TrainSettings>;
  // --dropout-mode locked given, and no dropout chosen (an epoch or less, or a rung capped at 0): there are no masks to lock
  const unmasked = given.dropoutMode === "locked" && dropout === 0;
  if (unmasked) settings.dropoutMode = "element";

  // the explanation
  const decay = sched.lrMin !== undefined ? ` on a cosine to ${num(sched.lrMin)}` : "";
  const normed = shape.model.norm ? `, ${shape.model.norm} norm` : "";
  const adamw = optim.weightDecay ? `, AdamW weight decay ${num(optim.weightDecay)}` : "";
  const averaged = ema > 0 ? `, weights averaged over ~${emaSpan(ema)} steps (--ema ${Number(ema.toPrecision(6))})` : "";
  const lines = [
    `auto-sizing for --time ${duration(inp.budget)} (--no-auto-size: the defaults instead): ${inp.measured}, ${inp.threads} thread${inp.threads === 1 ? "" : "s"}` +
      `${inp.spent > 0 ? `; ${inp.spent.toFixed(1)}s of the budget spent measuring` : ""}`,
    `→ ${label(shape.model)}${shape.model.embed ? `, embedding ${shape.model.embed}` : ""}${normed}, B${B} T${T}, dropout ${num(dropout)}${adamw}, lr ${num(lr)}${decay}${averaged}: ` +
      `~${steps} steps at ~${human(charsPerSec)} chars/s (${epochs.toFixed(1)} epochs of ${human(trainChars)} chars), ${valFrac > 0 ? `validation ${num(100 * valFrac)}% every ${evalEvery} steps` : "no validation split: every character trains (--val-frac F holds the end out)"}`,
  ];
  if (given.hidden !== undefined) {
    lines.push(`  --hidden ${given.hidden} fixes the width: batch, seq, lr and dropout from the rung of nearest width, ${label(rung)}`);
  } else {
    const next = at + 1 < shapes.length ? at + 1 : -1;
    const why = next < 0 ? "the largest rung" : params[next] > t.PARAMS_PER_CHAR * trainChars
      ? `${label(shapes[next].model)} would have ${(params[next] / trainChars).toFixed(1)} params per training char`
      : `${label(shapes[next].model)} would take ${Math.floor(chars(shapes[next]) / (shapes[next].batch * shapes[next].seq))} steps and see ${(chars(shapes[next]) / params[next]).toFixed(1)} chars per param`;
    lines.push(`  the largest of ${shapes.map((s) => label(s.model)).join(", ")} taking ≥ ${minStepsOf(t)} steps and seeing ≥ ${t.CHARS_PER_PARAM} chars per param in the budget, ≤ ${t.PARAMS_PER_CHAR} params per char (${why})`);
  }
  if (calibrate > 0) {
    lines.push(`  the first ${human(calibChars)} characters held out to fit the final model's temperature (--calibrate ${num(calibrate)}${given.calibrate !== undefined ? ", given" : "; --calibrate 0: none"})`);
  }
  if (unmasked) lines.push(`  --dropout-mode locked: no masks to lock, dropout 0 for ${epochs.toFixed(1)} epochs (--dropout P sets some)`);
  const kept = Object.keys(chosen).filter((k) => (given as Record<string, unknown>)[k] !== undefined);
  if (kept.length) lines.push(`  kept from the command line: ${kept.map(flagOf).join(", ")}`);
  return { settings, steps, evalEvery, valFrac, time: Math.max(0.1, Math.round(usable * 100) / 100), charsPerSec, lines };
}

/**
 * A rung as it will run: the shape settings given replace its own, and a corpus too short for its batch × seq
 * gets a smaller batch (then seq) unless those were given (a run needs B·T + 1 training characters).
 */
function shapeOf(r: Rung, given: Partial<TrainSettings>, vocabSize: number, trainChars: number, t = AUTOSIZE): Shape {
  const own: Record<string, unknown> = { cell: r.cell, layers: r.layers, hidden: r.hidden, norm: r.norm, batch: r.batch, seq: r.seq };
  for (const k of SHAPE_FIELDS) if (given[k] !== undefined) own[k] = given[k];
  if (own.norm === "none") delete own.norm; // as the model's config holds it: absent
  const { batch, seq, ...m } = own as { batch: number; seq: number } & Partial<ModelConfig>;
  let B = batch, T = seq;
  if (B * T + 1 > trainChars && given.batch === undefined) B = Math.max(1, Math.floor((trainChars - 1) / T));
  if (B * T + 1 > trainChars && given.seq === undefined) T = Math.max(1, Math.floor((trainChars - 1) / B));
  const model: ModelConfig = { ...MODEL_DEFAULTS, activation: given.activation ?? MODEL_DEFAULTS.activation, residual: given.residual ?? false, ...m, vocabSize };
  return { model, batch: B, seq: T, efficiency: r.efficiency * (model.norm ? t.NORM_SPEED : 1) };
}

/** --ema: the decay whose time constant 1/(1 − D) is `share` × the horizon, a whole number of steps, at least 2
 *  (0: none). The rule's share is EMA_SHARE; a re-planned horizon re-plans the decay with it (train.ts). */
export function emaFor(steps: number, share: number): number {
  if (!(share > 0)) return 0;
  return 1 - 1 / Math.max(2, Math.round(share * steps));
}

/** The steps an --ema decay D averages over, its time constant 1/(1 − D) rounded (emaFor's inverse), as printed. */
export const emaSpan = (decay: number): number => Math.round(1 / (1 - decay));

/** --calibrate: the fraction of a corpus of `chars` characters the rule holds out at its start (0: none). */
export function calibrateFor(chars: number, t = AUTOSIZE): number {
  const frac = Math.min(t.CALIBRATION_FRAC_MAX, Number((t.CALIBRATION_CHARS / Math.max(1, chars)).toPrecision(2)));
  return Math.floor(chars * frac) >= t.CALIBRATION_MIN_CHARS ? frac : 0;
}

/** --lr-schedule cosine and --lr-min: from lr down to LR_END × lr at the horizon. */
function schedule(lr: number, t = AUTOSIZE): { lrSchedule?: "cosine"; lrMin?: number } {
  return { lrSchedule: "cosine", lrMin: Number((lr * t.LR_END).toPrecision(3)) };
}
