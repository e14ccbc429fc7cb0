// The training loop: truncated BPTT over B parallel streams, chunks of T steps, state carried between chunks
// and reset at each epoch start. It never prints: it emits events, and presenters (src/cli/) render them.
//
// train() reads top to bottom: split the text, open the run directory, build (or load) the model, the
// optimizer and the gradient engine, then step until the budget is spent, validating and checkpointing on
// their cadences. Its bookkeeping (validation results, patience, averages since the last evaluation) is one
// Tally, changed only by the tally* functions; validate() and saveLatest() work on the Run that train() sets up.
import path from "node:path";
import { SAMPLE_DEFAULTS, TRAIN_SAMPLE_DEFAULTS, type TrainConfig } from "../config.ts";
import type { CorpusFingerprint } from "../corpus/fingerprint.ts";
import { RnnError, UsageError } from "../errors.ts";
import { checkFits, type Ids, makeBatcher, splitTrainVal } from "../corpus/batches.ts";
import type { Arr, Kernels } from "../kernels/types.ts";
import { cellOf } from "../model/cells/index.ts";
import { initParams } from "../model/init.ts";
import { createModel, type Model, pack } from "../model/model.ts";
import { makeRng, type Rng } from "../rng.ts";
import { bestFileLoss, loadModel, loadRunState, type ModelMeta, type RunState, saveModel, saveRun } from "../checkpoint/checkpoint.ts";
import { BEST, LATEST, openRunDir, pruneStepCheckpoints, stepFile } from "../run/dir.ts";
import { createLocalEngine, type Engine } from "./engine.ts";
import { createParallelEngine } from "./parallel.ts";
import { createEvaluator } from "../eval/evaluate.ts";
import { type Calibration, calibrate, copyDecoder, restoreDecoder } from "../eval/calibrate.ts";
import { createSampleSpace, sampleScored, type SampleSpace } from "../sample/sample.ts";
import { type OrthoStart, startOrthogonal } from "./cayley.ts";
import { transplant } from "./finetune.ts";
import { createOptimizerState, type OptimizerState } from "./optim.ts";
import { createAverage, emaDecay, emaUpdate, inAverage, type WeightAverage } from "./average.ts";
import { emaFor, replanAfter, replanHorizon, replanNext, stepsPerSecond } from "./autosize.ts";
import { bendHorizon, lrAt, stepBudget, withLrHorizon } from "./schedule.ts";
import { makeStepper, type StepResult } from "./step.ts";

export type TrainEvent =
  | { type: "start"; config: TrainConfig; params: number; vocab: number; trainChars: number; valChars: number; chunksPerEpoch: number; totalSteps: number | null; startStep: number; kernels: string; resumed: boolean; initFrom?: { path: string; step: number; added: string[] };
      /** --ortho-opt cayley, a new run whose recurrent blocks were not all orthogonal: how many were projected */
      orthoStart?: OrthoStart }
  | { type: "step"; step: number; totalSteps: number | null; epoch: number; loss: number; penalty: number; lr: number; gradNorm: number; clipped: boolean; charsPerSec: number; elapsed: number; eta: number | null }
  | { type: "eval"; step: number; trainLoss: number; valLoss: number | null; bestValLoss: number | null; improved: boolean; lr: number; gradNorm: number; clippedFrac: number; penalty: number }
  | { type: "checkpoint"; step: number; path: string; kind: "latest" | "best" | "step" }
  /** --sample-every: a sample from the model at `step` (seed --seed, after a newline); logprob in nats */
  | { type: "sample"; step: number; text: string; logprob: number }
  /** --calibrate: the final model's softmax temperature, fitted on the characters held out from the corpus's
   *  start (src/eval/calibrate.ts), and its loss there before and after */
  | ({ type: "calibrate"; step: number } & Calibration)
  /** an auto-sized run's horizon planned again from its own speed (charsPerSec, kept from second `since` to
   *  `elapsed`): `planned` steps before, `steps` now */
  | { type: "replan"; step: number; elapsed: number; since: number; charsPerSec: number; planned: number; steps: number;
      /** --ema re-planned with the horizon (the rule chose it): the new decay */
      ema?: number }
  | { type: "end"; step: number; reason: "steps" | "epochs" | "time" | "patience" | "interrupted"; trainLoss: number; valLoss: number | null; bestValLoss: number | null; elapsed: number; charsPerSec: number; out: string };

type EndEvent = TrainEvent & { type: "end" };

export interface TrainInput {
  cfg: TrainConfig;
  vocab: string[];
  ids: Ids;
  kernels: Kernels;
  /**
   * every event, with the model being trained (for observers that measure it: events come between steps,
   * when the engine's threads are idle)
   */
  onEvent: (e: TrainEvent, model: Model) => void;
  /** resume from cfg.out's latest checkpoint */
  resume?: boolean;
  /**
   * fine-tuning (a new run only): the trained model whose weights replace the fresh ones, and its vocabulary
   * (`vocab` above must start with it; characters after it get the fresh rows). `added`: those characters.
   */
  initFrom?: { path: string; step: number; model: Model; vocab: string[]; added: string[] };
  /** the fingerprint of the training text, saved in the run's state (--resume compares it with the text then) */
  fingerprint?: CorpusFingerprint;
  /** polled after every step: true → save and stop (SIGINT / SIGTERM) */
  shouldStop?: () => boolean;
  /** builds the gradient engine from the training split (default: createEngine; tests wrap it) */
  makeEngine?: (model: Model, cfg: TrainConfig, trainIds: Ids) => Engine | Promise<Engine>;
  /** injectable clock, seconds */
  now?: () => number;
}

/**
 * The gradient engine for `model` on the training text: data-parallel over cfg.threads threads when the
 * kernels keep the model in memory that threads can share (the WebAssembly kernels), else this thread alone.
 */
export async function createEngine(model: Model, cfg: TrainConfig, trainIds: Ids): Promise<Engine> {
  const batcher = makeBatcher(trainIds, cfg.batch, cfg.seq);
  return cfg.threads > 1 && model.ops.shared
    ? await createParallelEngine(model, cfg, batcher, trainIds, cfg.threads)
    : createLocalEngine(model, cfg, batcher);
}

export { lrAt } from "./schedule.ts";

export async function train(inp: TrainInput): Promise<EndEvent> {
  const { vocab, ids, kernels: ops } = inp;
  const now = inp.now ?? (() => performance.now() / 1000);
  const { trainIds, valIds, calibIds } = splitCorpus(ids, inp.cfg);
  // the cosine schedule's horizon, fixed at the start of the run (stored in its config, kept on resume)
  // (an auto-sized run plans it again once, from its own speed: replan below)
  let cfg = withLrHorizon(inp.cfg, makeBatcher(trainIds, inp.cfg.batch, inp.cfg.seq).chunksPerEpoch);
  const rng = makeRng(cfg.seed);
  openRunDir(cfg.out);

  // model, optimizer and engine: new, or as the run directory's latest checkpoint left them
  const { model, resumed } = inp.resume ? resumeModel(cfg.out, ops, rng) : { model: newModel(cfg, ops, rng), resumed: null };
  if (inp.initFrom && !resumed) transplant(model, vocab, inp.initFrom.model, inp.initFrom.vocab);
  // --ortho-opt cayley: a new run starts with every recurrent block orthogonal
  const orthoStart = cfg.orthoOpt === "cayley" && !resumed ? startOrthogonal(model) : null;
  if (resumed) refuseSpentBudget(cfg, resumed.step, makeBatcher(trainIds, cfg.batch, cfg.seq).chunksPerEpoch);
  const opt = createOptimizer(cfg, model, resumed);
  // --ema: the average starts at the weights (resumed: the saved model is the average, the state the raw weights)
  const average = cfg.ema ? createAverage(cfg.ema, model.params.data) : null;
  if (resumed) restoreRawWeights(cfg, model, resumed);
  const engine = await (inp.makeEngine ?? createEngine)(model, cfg, trainIds);
  if (resumed) engine.loadState(resumed);
  const stepOnce = makeStepper(model, cfg, engine, opt);

  const epochSteps = engine.chunksPerEpoch;
  let totalSteps = stepBudget(cfg, epochSteps);
  const emit = (e: TrainEvent) => inp.onEvent(e, model);
  const hBuf = new Float32Array(cfg.model.layers * cfg.batch * cfg.model.hidden);
  const cBuf = cellOf(cfg.model).state.includes("c") ? new Float32Array(hBuf.length) : null;
  const run: Run = {
    cfg, vocab, model, engine, opt, average, rng, emit, h: hBuf, c: cBuf,
    step: resumed?.step ?? 0, epoch: resumed?.epoch ?? 0, chunk: resumed?.chunk ?? 0,
    lastSaved: resumed ? resumed.step : null, fingerprint: inp.fingerprint ?? null, calibIds,
    tally: newTally(resumed, resumed ? bestFileLoss(cfg.out) : null),
    sampleSpace: null, sampledAt: null,
  };
  const startStep = run.step;
  emit({
    type: "start", config: cfg, params: model.spec.size, vocab: vocab.length, trainChars: trainIds.length, valChars: valIds.length,
    chunksPerEpoch: epochSteps, totalSteps, startStep, kernels: ops.name, resumed: !!inp.resume,
    ...(inp.initFrom && !resumed ? { initFrom: { path: inp.initFrom.path, step: inp.initFrom.step, added: inp.initFrom.added } } : {}),
    ...(orthoStart?.projected ? { orthoStart } : {}),
  });
  const val: Validation = { ids: valIds, evaluate: createEvaluator(model, 256) };

  const t0 = now();
  // --time auto-sizing planned the horizon from a second of measuring; a new run plans it again from its own
  // speed, first after 3% of its time and then every 10% (src/train/autosize.ts: replanAfter, replanNext,
  // replanHorizon), so that the cosine ends with the clock however the machine's speed drifts; each plan bends
  // the cosine where it stands (src/train/schedule.ts, bendHorizon) and spreads the rest over the new horizon
  let replanAt = cfg.autoSize && !resumed && cfg.time > 0 ? replanAfter(cfg.time) : Infinity;
  let since = { step: startStep, elapsed: 0 }; // where the speed of the next plan is measured from
  const replan = (step: number, elapsed: number) => {
    replanAt = replanNext(elapsed, cfg.time);
    const window = since;
    since = { step, elapsed };
    const steps = replanHorizon({ step, since: window, elapsed, time: cfg.time });
    if (steps === cfg.steps) return;
    const charsPerSec = stepsPerSecond(step, window, elapsed) * cfg.batch * cfg.seq; // the window's speed, as replanHorizon used it
    const times = (cfg.autoSize!.replanned?.times ?? 0) + 1;
    const replanned = { step, elapsed: Number(elapsed.toFixed(3)), charsPerSec: Number(charsPerSec.toPrecision(4)), was: cfg.steps, steps, times };
    // the cosine bends here and ends at the new horizon, and an average the rule chose spans the same share of it
    const ema = cfg.ema !== undefined && cfg.autoSize?.emaShare ? { ema: emaFor(steps, cfg.autoSize.emaShare) } : {};
    cfg = { ...bendHorizon(cfg, step, steps), steps, ...ema, autoSize: { ...cfg.autoSize!, replanned } };
    if (average && cfg.ema) average.decay = cfg.ema;
    run.cfg = cfg;
    totalSteps = stepBudget(cfg, epochSteps);
    emit({ type: "replan", step, elapsed, since: window.elapsed, charsPerSec, planned: replanned.was, steps, ...ema });
  };
  let reason: EndEvent["reason"] = "steps";
  let endVal: number | undefined;
  let lastYield = performance.now();
  try {
    for (;;) {
      if (totalSteps !== null && run.step >= totalSteps) { reason = cfg.steps > 0 && run.step >= cfg.steps ? "steps" : "epochs"; break; }
      if (cfg.time > 0 && now() - t0 >= cfg.time) { reason = "time"; break; }
      if (run.chunk >= epochSteps) {
        run.epoch++;
        run.chunk = 0;
        engine.resetState();
      }
      const lr = lrAt(cfg, run.step);
      const r = stepOnce(run.chunk, rng, lr);
      // a finite gradient can still overflow the weights: check them before anything is saved
      if (!r.finite || !allFinite(model.params.data)) throw diverged(run, r);
      run.step++;
      run.chunk++;
      if (average) emaUpdate(average.avg, model.params.data, emaDecay(average.decay, run.step));
      const clipped = cfg.clip > 0 && r.gradNorm > cfg.clip;
      tallyStep(run.tally, r, clipped);
      const elapsed = now() - t0, step = run.step;
      const cps = ((step - startStep) * cfg.batch * cfg.seq) / Math.max(elapsed, 1e-9);
      const eta = totalSteps !== null ? ((totalSteps - step) * elapsed) / (step - startStep) : cfg.time > 0 ? Math.max(0, cfg.time - elapsed) : null;
      emit({ type: "step", step, totalSteps, epoch: run.epoch, loss: r.loss, penalty: r.penalty, lr, gradNorm: r.gradNorm, clipped, charsPerSec: cps, elapsed, eta });
      if (elapsed >= replanAt && elapsed < cfg.time) replan(step, elapsed);
      const last = (totalSteps !== null && step >= totalSteps) || (cfg.time > 0 && elapsed >= cfg.time);
      if (step % cfg.evalEvery === 0 && !last) {
        validate(run, val, lr, r.gradNorm, true);
        if (patienceSpent(run.tally, cfg.patience)) { reason = "patience"; break; }
      }
      if (step % cfg.checkpointEvery === 0 && !last) saveLatest(run);
      if (!last) takeSample(run);
      // the loop is synchronous: give signal handlers (Ctrl-C, SIGTERM) a turn every 50 ms
      if (performance.now() - lastYield >= 50) {
        await new Promise((res) => setImmediate(res));
        lastYield = performance.now();
      }
      if (inp.shouldStop?.()) { reason = "interrupted"; break; }
    }
    // final validation (not when interrupted: Ctrl-C must be quick) and checkpoint
    if (reason !== "interrupted" && (run.tally.n > 0 || run.tally.lastVal === null)) {
      endVal = validate(run, val, lrAt(cfg, Math.max(0, run.step - 1)), NaN, run.step % cfg.evalEvery === 0);
    }
    takeSample(run);
    saveLatest(run, true);
  } finally {
    await engine.dispose();
  }
  const elapsed = now() - t0;
  const end = {
    type: "end" as const, step: run.step, reason, trainLoss: run.tally.lastLoss, valLoss: endVal ?? run.tally.lastVal, bestValLoss: run.tally.bestFileVal,
    elapsed, charsPerSec: ((run.step - startStep) * cfg.batch * cfg.seq) / Math.max(elapsed, 1e-9), out: cfg.out,
  };
  emit(end);
  return end;
}

/**
 * The corpus's splits: [calibration (--calibrate, its start) | training | validation (--val-frac, its end)],
 * each a fraction of the whole text; refused (UsageError) when they cannot serve.
 */
function splitCorpus(ids: Ids, cfg: TrainConfig): { trainIds: Ids; valIds: Ids; calibIds: Ids } {
  const { train: head, val: valIds } = splitTrainVal(ids, cfg.valFrac);
  const calibLen = Math.floor(ids.length * (cfg.calibrate ?? 0));
  const calibIds = head.subarray(0, calibLen), trainIds = head.subarray(calibLen);
  if (cfg.calibrate && calibIds.length < 2) {
    throw new UsageError(`--calibrate ${cfg.calibrate} holds out ${calibIds.length} of ${ids.length} characters (at least 2 needed to fit a temperature); raise it, or drop it`);
  }
  const need = cfg.batch * cfg.seq + 1;
  if (trainIds.length < need && ids.length >= need) {
    const held = cfg.calibrate ? `--val-frac ${cfg.valFrac} and --calibrate ${cfg.calibrate} leave` : `--val-frac ${cfg.valFrac} leaves`;
    throw new UsageError(
      `${held} ${trainIds.length} of ${ids.length} characters to train on, and --batch ${cfg.batch} --seq ${cfg.seq} needs ${need}; lower ${cfg.calibrate ? "them" : "--val-frac"}`,
    );
  }
  checkFits(trainIds.length, cfg.batch, cfg.seq);
  if (cfg.valFrac > 0 && valIds.length < 2) {
    throw new UsageError(`--val-frac ${cfg.valFrac} leaves ${valIds.length} validation characters (at least 2 needed); raise it, or use --val-frac 0 for no validation`);
  }
  return { trainIds, valIds, calibIds };
}

function newModel(cfg: TrainConfig, ops: Kernels, rng: Rng): Model {
  const model = createModel(cfg.model, ops);
  initParams(model, cfg, rng);
  return model;
}

/** DIR's latest model and the state saved with it; rng continues where the run left it. */
function resumeModel(dir: string, ops: Kernels, rng: Rng): { model: Model; resumed: RunState } {
  const loaded = loadModel(dir, ops);
  const resumed = loadRunState(dir, loaded.meta.step);
  rng.setState(resumed.rng);
  // a calibrated model file: its decoder as it trained, before the temperature scaled it
  if (resumed.decoder) restoreDecoder(loaded.model, resumed.decoder);
  return { model: loaded.model, resumed };
}

/**
 * A resumed --ema run: the model file held the average (now in `model`), the state the raw weights, which
 * go back in place to train on. A state without them belongs to a run without --ema (which cannot change on
 * resume) or an older rnn: the weights loaded are the raw ones then.
 */
function restoreRawWeights(cfg: TrainConfig, model: Model, resumed: RunState): void {
  const raw = resumed.params;
  if (!raw) return;
  if (raw.length !== model.params.data.length) {
    throw new RnnError(`${cfg.out}: the saved raw weights (${raw.length}) do not fit the model (${model.params.data.length} parameters); the run directory is damaged`);
  }
  model.params.data.set(raw);
  pack(model);
}

/** The optimizer state: zero, or the resumed run's. */
function createOptimizer(cfg: TrainConfig, model: Model, resumed: RunState | null): OptimizerState {
  const opt = createOptimizerState(cfg, model.spec.size, (n) => model.ops.alloc(n));
  if (resumed) {
    if (resumed.optimizer.length !== opt.slab.data.length) {
      throw new RnnError(`${cfg.out}: the saved optimizer state does not fit --optimizer ${cfg.optimizer}; resume with the run's optimizer`);
    }
    opt.slab.data.set(resumed.optimizer);
    opt.step = resumed.optStep;
  }
  return opt;
}

/**
 * A resumed run whose budget is spent (the budget counts from the start of the run) would train nothing: it
 * used to save again and print "train NaN", exit 0. Refused in one line, before anything is written.
 */
function refuseSpentBudget(cfg: TrainConfig, step: number, epochSteps: number): void {
  const total = stepBudget(cfg, epochSteps);
  if (total === null || total > step) return;
  const budget = cfg.steps > 0 && total === cfg.steps ? `--steps ${cfg.steps}` : `--epochs ${cfg.epochs} (${total} steps)`;
  throw new UsageError(
    `nothing to train: the run is at step ${step} and its budget is ${budget}, counted from the start of the run; give --steps above ${step} (or more --epochs) to train more`,
  );
}

// ---- bookkeeping ------------------------------------------------------------------------------------------

/**
 * What training keeps track of besides the weights and its position. Evaluations on the --eval-every
 * cadence drive bestVal, patience and the metadata of latest.safetensors; the extra evaluation at the end of
 * a run only reports and may refresh best.safetensors. That keeps "N steps, then resume for M"
 * byte-identical to "N+M steps" (the end-of-run eval of the first half changes nothing the second half
 * reads). best.safetensors records its own loss (bestFileVal), read back on resume.
 */
interface Tally {
  /** best and latest validation loss on the cadence, and the cadence evaluations since bestVal (patience) */
  bestVal: number | null;
  lastVal: number | null;
  evalsSinceBest: number;
  /** the validation loss in best.safetensors */
  bestFileVal: number | null;
  /** the last step's loss and orthogonal-regularisation penalty */
  lastLoss: number;
  penalty: number;
  /** since the last evaluation: steps, Σ loss, Σ gradient norm, steps clipped */
  n: number;
  lossSum: number;
  normSum: number;
  clipped: number;
}

function newTally(resumed: RunState | null, bestFileVal: number | null): Tally {
  return {
    bestVal: resumed?.bestValLoss ?? null, lastVal: resumed?.lastValLoss ?? null, evalsSinceBest: resumed?.evalsSinceBest ?? 0, bestFileVal,
    lastLoss: NaN, penalty: 0, n: 0, lossSum: 0, normSum: 0, clipped: 0,
  };
}

function tallyStep(t: Tally, r: StepResult, clipped: boolean): void {
  t.lastLoss = r.loss;
  t.penalty = r.penalty;
  t.n++;
  t.lossSum += r.loss;
  t.normSum += r.gradNorm;
  if (clipped) t.clipped++;
}

/** A validation loss on the cadence: true when it is the best so far (patience restarts), else patience counts it. */
function tallyCadenceEval(t: Tally, v: number): boolean {
  t.lastVal = v;
  const improved = t.bestVal === null || v < t.bestVal;
  if (improved) {
    t.bestVal = v;
    t.evalsSinceBest = 0;
  } else t.evalsSinceBest++;
  return improved;
}

/** True, and recorded, when the validation loss v beats the one in best.safetensors. */
function tallyBestFile(t: Tally, v: number): boolean {
  if (t.bestFileVal === null || v < t.bestFileVal) {
    t.bestFileVal = v;
    return true;
  }
  return false;
}

/** The averages since the last evaluation (the last step's loss, and gradNorm, when there was no step); restarts them. */
function takeAverages(t: Tally, gradNorm: number): { trainLoss: number; gradNorm: number; clippedFrac: number } {
  const a = t.n ? { trainLoss: t.lossSum / t.n, gradNorm: t.normSum / t.n, clippedFrac: t.clipped / t.n } : { trainLoss: t.lastLoss, gradNorm, clippedFrac: 0 };
  t.n = 0; t.lossSum = 0; t.normSum = 0; t.clipped = 0;
  return a;
}

function patienceSpent(t: Tally, patience: number): boolean {
  return patience > 0 && t.evalsSinceBest >= patience;
}

// ---- the run's actions ------------------------------------------------------------------------------------

/** What validate and saveLatest work on: set up once by train(). */
interface Run {
  cfg: TrainConfig;
  vocab: string[];
  model: Model;
  engine: Engine;
  opt: OptimizerState;
  /** --ema: the averaged weights, which are validated, sampled and saved in the weights' place; null without */
  average: WeightAverage | null;
  rng: Rng;
  emit: (e: TrainEvent) => void;
  /** steps done, the epoch, and the next chunk of the epoch */
  step: number;
  epoch: number;
  chunk: number;
  /** step of the newest latest.safetensors */
  lastSaved: number | null;
  /** of the training text, saved with the state */
  fingerprint: CorpusFingerprint | null;
  tally: Tally;
  /** --calibrate: the characters held out at the corpus's start, on which the final model's temperature is fitted */
  calibIds: Ids;
  /** the carried state of every stream, [L × B × H], filled from the engine at each save */
  h: Float32Array;
  c: Float32Array | null;
  /** --sample-every: the sampler's buffers (made at the first sample) and the step of the last sample */
  sampleSpace: SampleSpace | null;
  sampledAt: number | null;
}

/** The validation split and the evaluator that scores it. */
interface Validation {
  ids: Ids;
  evaluate: ReturnType<typeof createEvaluator>;
}

const metaOf = (run: Run, calibration?: Calibration): ModelMeta => ({
  config: run.cfg, vocab: run.vocab, step: run.step, bestValLoss: run.tally.bestVal, ...(calibration ? { calibration } : {}),
});

/**
 * Evaluates the validation split, records the result (onCadence: an --eval-every evaluation), refreshes
 * best.safetensors when it beats it, and reports an "eval" event with the averages since the last one. With
 * no validation split (--val-frac 0) it reports the training side alone. Returns the loss.
 */
function validate(run: Run, val: Validation, lr: number, gradNorm: number, onCadence: boolean): number | undefined {
  return inAverage(run.average, run.model, () => validateModel(run, val, lr, gradNorm, onCadence));
}

function validateModel(run: Run, val: Validation, lr: number, gradNorm: number, onCadence: boolean): number | undefined {
  const { cfg, tally } = run;
  const report = (valLoss: number | null, improved: boolean) => {
    const a = takeAverages(tally, gradNorm);
    run.emit({
      type: "eval", step: run.step, trainLoss: a.trainLoss, valLoss, bestValLoss: tally.bestFileVal, improved, lr,
      gradNorm: a.gradNorm, clippedFrac: a.clippedFrac, penalty: tally.penalty,
    });
  };
  if (val.ids.length < 2) {
    // --val-frac 0: still report the training side (metrics.jsonl, loss.svg)
    report(null, false);
    return undefined;
  }
  const r = val.evaluate(val.ids);
  const v = r.lossSum / r.count;
  let improved = onCadence ? tallyCadenceEval(tally, v) : false;
  if (tallyBestFile(tally, v)) {
    const f = path.join(cfg.out, BEST);
    saveModel(f, run.model, { ...metaOf(run), bestValLoss: v });
    run.emit({ type: "checkpoint", step: run.step, path: f, kind: "best" });
    improved = true;
  }
  report(v, improved);
  return v;
}

/**
 * Saves latest.safetensors with the state to resume from, and a step checkpoint when --keep asks for them
 * (with --ema the models saved are the average, and the state holds the raw weights). The run's last save
 * (`final`) with --calibrate saves the model with its temperature fitted on the held-out start of the corpus
 * (the decoder scaled); the state keeps the decoder as it trained, which is put back here and on --resume.
 */
function saveLatest(run: Run, final = false): void {
  run.engine.saveState({ h: run.h, c: run.c });
  inAverage(run.average, run.model, (raw) => {
    const trained = final && run.calibIds.length >= 2 ? copyDecoder(run.model) : null;
    try {
      const calibration = trained ? calibrate(run.model, run.calibIds) : undefined;
      if (calibration) run.emit({ type: "calibrate", step: run.step, ...calibration });
      saveModels(run, raw, trained, calibration);
    } finally {
      if (trained) restoreDecoder(run.model, trained);
    }
  });
}

/** saveLatest's files: the model and state (decoder: the trained one, when the model's is calibrated), and a step checkpoint. */
function saveModels(run: Run, raw: Arr | null, decoder: Float32Array | null, calibration: Calibration | undefined): void {
  const { cfg, model, tally, step } = run;
  saveRun(cfg.out, model, metaOf(run, calibration), {
    step, epoch: run.epoch, chunk: run.chunk, rng: run.rng.getState(), optStep: run.opt.step, bestValLoss: tally.bestVal,
    evalsSinceBest: tally.evalsSinceBest, lastValLoss: tally.lastVal, optimizer: run.opt.slab.data, h: run.h, c: run.c, params: raw,
    config: cfg, fingerprint: run.fingerprint, // the run's whole config, budget included (the model checkpoints hold neither budget nor path)
    decoder,
  });
  run.lastSaved = step;
  run.emit({ type: "checkpoint", step, path: path.join(cfg.out, LATEST), kind: "latest" });
  if (cfg.keep > 0) {
    const f = path.join(cfg.out, stepFile(step));
    saveModel(f, model, metaOf(run, calibration));
    run.emit({ type: "checkpoint", step, path: f, kind: "step" });
    pruneStepCheckpoints(cfg.out, cfg.keep);
  }
}

/**
 * On the --sample-every cadence (once per step), a sample of --sample-length characters from the model as it
 * is: its own generator seeded with --seed, a fresh state fed a newline (emptyContext), temperature 1. The
 * same seed every time, so successive samples differ only by what the model learned (with --ema, the
 * average). It uses its own buffers and generator, on this thread's model (the engine's threads are idle
 * between steps): nothing training reads or writes is touched.
 */
function takeSample(run: Run): void {
  const { cfg, step } = run;
  if (!cfg.sampleEvery || step % cfg.sampleEvery !== 0 || run.sampledAt === step) return;
  run.sampledAt = step;
  run.sampleSpace ??= createSampleSpace(run.model, 1);
  const length = cfg.sampleLength ?? TRAIN_SAMPLE_DEFAULTS.sampleLength;
  const [r] = inAverage(run.average, run.model, () =>
    sampleScored(run.model, run.vocab, { ...SAMPLE_DEFAULTS, length, seed: cfg.seed, prime: "", count: 1 }, () => {}, run.sampleSpace!));
  run.emit({ type: "sample", step, text: r.text, logprob: r.logprob });
}

/** The error that stops a run whose step r came out NaN/Inf (loss, gradient, or weights). */
function diverged(run: Run, r: StepResult): RnnError {
  const { cfg } = run;
  const what = !Number.isFinite(r.loss) ? `the loss is ${r.loss}` : !r.finite ? `the gradient norm is ${r.gradNorm}` : "the weights overflowed to Inf/NaN";
  const kept = run.lastSaved !== null ? `the last good checkpoint (step ${run.lastSaved}) is ${path.join(cfg.out, LATEST)}` : "no checkpoint was saved before it";
  // settings that push the weights or the loss to extremes by themselves, when set: name them too
  const extreme = [
    cfg.weightDecay > 0 ? `--weight-decay (now ${cfg.weightDecay})` : null,
    cfg.orthoReg > 0 ? `--ortho-reg (now ${cfg.orthoReg})` : null,
    cfg.forgetBias !== null && cfg.forgetBias !== 1 ? `--forget-bias (now ${cfg.forgetBias})` : null,
  ].filter((x) => x !== null);
  const fix = extreme.length
    ? `Lower ${extreme.join(", ")} in a new run (they cannot change on --resume), or lower --lr (now ${cfg.lr}) or use --clip (now ${cfg.clip || "off"})`
    : `Lower --lr (now ${cfg.lr}) or use --clip (now ${cfg.clip || "off"}); both may change on --resume`;
  return new RnnError(`training diverged at step ${run.step + 1}: ${what}; ${kept}. ${fix}`);
}

/** True when no element is NaN or ±Inf (x·0 is 0 for every finite x, NaN otherwise). */
function allFinite(a: ArrayLike<number>): boolean {
  let z = 0;
  for (let i = 0; i < a.length; i++) z += a[i] * 0;
  return z === 0;
}
