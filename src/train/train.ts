// The training loop: truncated BPTT over B parallel streams, chunks of T steps, state carried between chunks
// and reset at each epoch start. It never prints: it emits events, and presenters (src/cli/) render them.
import fs from "node:fs";
import path from "node:path";
import type { TrainConfig } from "../config.ts";
import { RnnError, UsageError } from "../errors.ts";
import { cleanStaleTemps, describeFsError } from "../io/atomic.ts";
import { type Batcher, checkFits, makeBatcher, splitTrainVal } from "../corpus/batches.ts";
import type { Kernels } from "../kernels/types.ts";
import { cellOf } from "../model/cells/index.ts";
import { initParams } from "../model/init.ts";
import { createModel, type Model } from "../model/model.ts";
import { makeRng } from "../rng.ts";
import { BEST, loadModel, loadRunState, type ModelMeta, type RunState, saveModel, saveRun } from "../checkpoint/checkpoint.ts";
import { createLocalEngine, type Engine } from "./engine.ts";
import { createParallelEngine } from "./parallel.ts";
import { createEvaluator } from "../eval/evaluate.ts";
import { readCheckpointFile } from "../io/safetensors.ts";
import { createOptimizerState } from "./optim.ts";
import { makeStepper } from "./step.ts";

export type TrainEvent =
  | { type: "start"; config: TrainConfig; params: number; vocab: number; trainChars: number; valChars: number; chunksPerEpoch: number; totalSteps: number | null; startStep: number; kernels: string; resumed: boolean }
  | { type: "step"; step: number; totalSteps: number | null; epoch: number; loss: number; penalty: number; lr: number; gradNorm: number; clipped: boolean; charsPerSec: number; elapsed: number; eta: number | null }
  | { type: "eval"; step: number; trainLoss: number; valLoss: number | null; bestValLoss: number | null; improved: boolean; lr: number; gradNorm: number; clippedFrac: number; penalty: number }
  | { type: "checkpoint"; step: number; path: string; kind: "latest" | "best" | "step" }
  | { type: "end"; step: number; reason: "steps" | "epochs" | "time" | "patience" | "interrupted"; trainLoss: number; valLoss: number | null; bestValLoss: number | null; elapsed: number; charsPerSec: number; out: string };

export interface TrainInput {
  cfg: TrainConfig;
  vocab: string[];
  ids: Uint16Array | Uint32Array;
  kernels: Kernels;
  onEvent: (e: TrainEvent) => void;
  /** resume from cfg.out's latest checkpoint */
  resume?: boolean;
  /** polled after every step: true → save and stop (SIGINT / SIGTERM) */
  shouldStop?: () => boolean;
  /** builds the gradient engine (default: data-parallel over cfg.threads with the WASM kernels, else this thread) */
  makeEngine?: (model: Model, cfg: TrainConfig, batcher: Batcher) => Engine | Promise<Engine>;
  /** injectable clock, seconds */
  now?: () => number;
}

/** Learning rate at a step: warmup ramp, then step decay. */
export function lrAt(cfg: TrainConfig, step: number): number {
  let lr = cfg.lr;
  if (cfg.lrDecayEvery > 0 && cfg.lrDecay !== 1) lr *= Math.pow(cfg.lrDecay, Math.floor(step / cfg.lrDecayEvery));
  if (cfg.warmup > 0 && step < cfg.warmup) lr *= (step + 1) / cfg.warmup;
  return lr;
}

export async function train(inp: TrainInput): Promise<TrainEvent & { type: "end" }> {
  const { cfg, vocab, ids, kernels: ops, onEvent } = inp;
  const now = inp.now ?? (() => performance.now() / 1000);
  const { train: trainIds, val: valIds } = splitTrainVal(ids, cfg.valFrac);
  const need = cfg.batch * cfg.seq + 1;
  if (trainIds.length < need && ids.length >= need) {
    throw new UsageError(
      `--val-frac ${cfg.valFrac} leaves ${trainIds.length} of ${ids.length} characters to train on, and --batch ${cfg.batch} --seq ${cfg.seq} needs ${need}; lower --val-frac`,
    );
  }
  checkFits(trainIds.length, cfg.batch, cfg.seq);
  if (cfg.valFrac > 0 && valIds.length < 2) {
    throw new UsageError(`--val-frac ${cfg.valFrac} leaves ${valIds.length} validation characters (at least 2 needed); raise it, or use --val-frac 0 for no validation`);
  }
  const batcher = makeBatcher(trainIds, cfg.batch, cfg.seq);
  const rng = makeRng(cfg.seed);
  try {
    fs.mkdirSync(cfg.out, { recursive: true });
  } catch (e) {
    throw new RnnError(`cannot create the run directory ${cfg.out}: ${describeFsError(e)}; choose another --out`);
  }
  cleanStaleTemps(cfg.out); // temp files of saves that were killed midway (kill -9, power cut)

  let model: Model;
  let step = 0, epoch = 0, chunk = 0, bestVal: number | null = null, evalsSinceBest = 0, lastVal: number | null = null;
  let resumed: RunState | null = null;
  if (inp.resume) {
    const loaded = loadModel(cfg.out, ops);
    model = loaded.model;
    resumed = loadRunState(cfg.out, loaded.meta.step);
    ({ step, epoch, chunk, evalsSinceBest } = resumed);
    bestVal = resumed.bestValLoss;
    lastVal = resumed.lastValLoss;
    rng.setState(resumed.rng);
  } else {
    model = createModel(cfg.model, ops);
    initParams(model, cfg, rng);
  }
  const P = model.spec.size;
  const opt = createOptimizerState(cfg, P, (n) => ops.alloc(n));
  if (resumed) {
    if (resumed.optimizer.length !== opt.slab.length) {
      throw new RnnError(`${cfg.out}: the saved optimizer state does not fit --optimizer ${cfg.optimizer}; resume with the run's optimizer`);
    }
    opt.slab.set(resumed.optimizer);
    opt.step = resumed.optStep;
  }
  const engine = inp.makeEngine
    ? await inp.makeEngine(model, cfg, batcher)
    : cfg.threads > 1 && "memory" in ops
      ? await createParallelEngine(model, cfg, batcher, trainIds, cfg.threads)
      : createLocalEngine(model, cfg, batcher);
  if (resumed) engine.loadState(resumed);
  const stepOnce = makeStepper(model, cfg, engine, opt);

  const epochSteps = batcher.chunksPerEpoch;
  const stepBudget = cfg.steps > 0 ? cfg.steps : cfg.epochs > 0 ? cfg.epochs * epochSteps : 0;
  const totalSteps = stepBudget > 0 ? (cfg.steps > 0 && cfg.epochs > 0 ? Math.min(cfg.steps, cfg.epochs * epochSteps) : stepBudget) : null;
  const startStep = step;
  onEvent({
    type: "start", config: cfg, params: P, vocab: vocab.length, trainChars: trainIds.length, valChars: valIds.length,
    chunksPerEpoch: epochSteps, totalSteps, startStep, kernels: ops.name, resumed: !!inp.resume,
  });

  const meta = (): ModelMeta => ({ config: cfg, vocab, step, bestValLoss: bestVal });
  const hBuf = new Float32Array(cfg.model.layers * cfg.batch * cfg.model.hidden);
  const cBuf = cellOf(cfg.model.cell).state.includes("c") ? new Float32Array(hBuf.length) : null;
  let lastSaved: number | null = resumed ? step : null; // step of the newest latest.safetensors
  const saveLatest = () => {
    engine.saveState({ h: hBuf, c: cBuf });
    saveRun(cfg.out, model, meta(), {
      step, epoch, chunk, rng: rng.getState(), optStep: opt.step, bestValLoss: bestVal, evalsSinceBest,
      lastValLoss: lastVal, optimizer: opt.slab, h: hBuf, c: cBuf,
    });
    lastSaved = step;
    onEvent({ type: "checkpoint", step, path: path.join(cfg.out, "latest.safetensors"), kind: "latest" });
    if (cfg.keep > 0) {
      const f = path.join(cfg.out, `step-${String(step).padStart(6, "0")}.safetensors`);
      saveModel(f, model, meta());
      onEvent({ type: "checkpoint", step, path: f, kind: "step" });
      pruneStepCheckpoints(cfg.out, cfg.keep);
    }
  };

  const t0 = now();
  let lastTrainLoss = NaN, lossAcc = 0, lossN = 0, normAcc = 0, clippedN = 0, penaltyLast = 0;
  let reason: (TrainEvent & { type: "end" })["reason"] = "steps";
  // Validation. Evaluations on the --eval-every cadence drive bestVal, patience and the metadata of
  // latest.safetensors; the extra evaluation at the end of a run only reports and may refresh best.safetensors.
  // That keeps "N steps, then resume for M" byte-identical to "N+M steps" (the end-of-run eval of the first
  // half changes nothing the second half reads). best.safetensors records its own loss, read back on resume.
  let bestFileVal = resumed ? bestFileLoss(cfg.out) : null;
  const evaluate = createEvaluator(model, 256);
  const validate = (lr: number, gradNorm: number, onCadence: boolean): number | undefined => {
    const report = (valLoss: number | null, improved: boolean) => {
      onEvent({
        type: "eval", step, trainLoss: lossN ? lossAcc / lossN : lastTrainLoss, valLoss, bestValLoss: bestFileVal, improved, lr,
        gradNorm: lossN ? normAcc / lossN : gradNorm, clippedFrac: lossN ? clippedN / lossN : 0, penalty: penaltyLast,
      });
      lossAcc = 0; lossN = 0; normAcc = 0; clippedN = 0;
    };
    if (valIds.length < 2) {
      // --val-frac 0: still report the training side (metrics.jsonl, loss.svg)
      report(null, false);
      return undefined;
    }
    const r = evaluate(valIds);
    const v = r.lossSum / r.count;
    let improved = false;
    if (onCadence) {
      lastVal = v;
      improved = bestVal === null || v < bestVal;
      if (improved) { bestVal = v; evalsSinceBest = 0; } else evalsSinceBest++;
    }
    if (bestFileVal === null || v < bestFileVal) {
      bestFileVal = v;
      const f = path.join(cfg.out, BEST);
      saveModel(f, model, { ...meta(), bestValLoss: v });
      onEvent({ type: "checkpoint", step, path: f, kind: "best" });
      improved = true;
    }
    report(v, improved);
    return v;
  };

  let endVal: number | undefined;
  let lastYield = performance.now();
  try {
    for (;;) {
      if (totalSteps !== null && step >= totalSteps) { reason = cfg.steps > 0 && step >= cfg.steps ? "steps" : "epochs"; break; }
      if (cfg.time > 0 && now() - t0 >= cfg.time) { reason = "time"; break; }
      if (chunk >= epochSteps) {
        epoch++;
        chunk = 0;
        engine.resetState();
      }
      const lr = lrAt(cfg, step);
      const { loss, penalty, gradNorm, finite } = stepOnce(chunk, rng, lr);
      penaltyLast = penalty;
      // a finite gradient can still overflow the weights: check them before anything is saved
      if (!finite || !allFinite(model.params.data)) {
        const what = !Number.isFinite(loss) ? `the loss is ${loss}` : !finite ? `the gradient norm is ${gradNorm}` : "the weights overflowed to Inf/NaN";
        const kept = lastSaved !== null ? `the last good checkpoint (step ${lastSaved}) is ${path.join(cfg.out, "latest.safetensors")}` : "no checkpoint was saved before it";
        throw new RnnError(
          `training diverged at step ${step + 1}: ${what}; ${kept}. Lower --lr (now ${cfg.lr}) or use --clip (now ${cfg.clip || "off"}); both may change on --resume`,
        );
      }
      step++;
      chunk++;
      lastTrainLoss = loss;
      lossAcc += loss; lossN++; normAcc += gradNorm;
      const clipped = cfg.clip > 0 && gradNorm > cfg.clip;
      if (clipped) clippedN++;
      const elapsed = now() - t0;
      const cps = ((step - startStep) * cfg.batch * cfg.seq) / Math.max(elapsed, 1e-9);
      const eta = totalSteps !== null ? ((totalSteps - step) * elapsed) / (step - startStep) : cfg.time > 0 ? Math.max(0, cfg.time - elapsed) : null;
      onEvent({ type: "step", step, totalSteps, epoch, loss, penalty, lr, gradNorm, clipped, charsPerSec: cps, elapsed, eta });
      const last = (totalSteps !== null && step >= totalSteps) || (cfg.time > 0 && elapsed >= cfg.time);
      if (step % cfg.evalEvery === 0 && !last) {
        validate(lr, gradNorm, true);
        if (cfg.patience > 0 && evalsSinceBest >= cfg.patience) { reason = "patience"; break; }
      }
      if (step % cfg.checkpointEvery === 0 && !last) saveLatest();
      // the loop is synchronous: give signal handlers (Ctrl-C, SIGTERM) a turn every 50 ms
      if (performance.now() - lastYield >= 50) {
        await new Promise((r) => setImmediate(r));
        lastYield = performance.now();
      }
      if (inp.shouldStop?.()) { reason = "interrupted"; break; }
    }
    // final validation (not when interrupted: Ctrl-C must be quick) and checkpoint
    if (reason !== "interrupted" && (lossN > 0 || lastVal === null)) endVal = validate(lrAt(cfg, Math.max(0, step - 1)), NaN, step % cfg.evalEvery === 0);
    saveLatest();
  } finally {
    await engine.dispose();
  }
  const elapsed = now() - t0;
  const end = {
    type: "end" as const, step, reason, trainLoss: lastTrainLoss, valLoss: endVal ?? lastVal, bestValLoss: bestFileVal, elapsed,
    charsPerSec: ((step - startStep) * cfg.batch * cfg.seq) / Math.max(elapsed, 1e-9), out: cfg.out,
  };
  onEvent(end);
  return end;
}

/** True when no element is NaN or ±Inf (x·0 is 0 for every finite x, NaN otherwise). */
function allFinite(a: ArrayLike<number>): boolean {
  let z = 0;
  for (let i = 0; i < a.length; i++) z += a[i] * 0;
  return z === 0;
}

/** The validation loss recorded in DIR/best.safetensors, if there is a readable one. */
function bestFileLoss(dir: string): number | null {
  try {
    const v = readCheckpointFile(path.join(dir, BEST)).metadata.best_val_loss;
    return v === undefined || v === "null" ? null : Number(v);
  } catch {
    return null;
  }
}

/** Keeps the `keep` newest DIR/step-NNNNNN.safetensors. */
export function pruneStepCheckpoints(dir: string, keep: number): void {
  const files = fs.readdirSync(dir).filter((f) => /^step-\d+\.safetensors$/.test(f)).sort();
  for (const f of files.slice(0, Math.max(0, files.length - keep))) fs.rmSync(path.join(dir, f), { force: true });
}
