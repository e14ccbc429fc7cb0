// One optimizer step: gradient of a chunk (engine), orthogonal-regularisation term, clipping, update, and
// refreshing the derived weights. Shared by the training loop and `rnn bench`.
//
// With an engine of several threads and plain Adam or AdamW (no orthogonal regularisation, no value clipping), the
// tail of the step is spread over every thread: each sums the threads' gradients over its slice of the slab
// (engine.reduceGrads), then clips and updates that slice (engine.adamUpdate), instead of the calling
// thread doing all of it while the others wait. Same arithmetic per element; only the float64 sum of
// squares is added up in slices.
//
// With --ortho-opt cayley, the recurrent gate blocks are set aside before the update and retracted on the
// orthogonal group after it (src/train/cayley.ts), spread over the engine's threads where it has several; the
// update itself is unchanged.
import type { TrainConfig } from "../config.ts";
import { type Model, pack } from "../model/model.ts";
import { orthoReg, orthoScratch } from "../model/orthoreg.ts";
import type { Rng } from "../rng.ts";
import { cayleyStep } from "./cayley.ts";
import type { Engine } from "./engine.ts";
import { adamScalars, clipCoef, clipGradValue, optimizerStep, type OptimizerState } from "./optim.ts";

export interface StepResult {
  /** mean cross-entropy of the chunk */
  loss: number;
  /** orthogonal-regularisation penalty (0 when off) */
  penalty: number;
  /** global gradient norm before clipping */
  gradNorm: number;
  /** false when the loss or gradient was NaN/Inf: the parameters were left untouched */
  finite: boolean;
}

export function makeStepper(model: Model, cfg: TrainConfig, engine: Engine, opt: OptimizerState) {
  const ops = model.ops;
  const ortho = cfg.orthoReg > 0 ? orthoScratch(model) : null;
  const spread = !!engine.reduceGrads && !!engine.adamUpdate && (cfg.optimizer === "adam" || cfg.optimizer === "adamw") && !ortho && !(cfg.clipValue > 0);
  const cayley = cfg.orthoOpt === "cayley" ? cayleyStep(model, engine) : null;
  const g = engine.grads.data;
  return (chunk: number, rng: Rng, lr: number): StepResult => {
    // spread: the threads' gradients stay in their own slabs until reduceGrads
    const r = engine.run(chunk, rng, spread);
    const loss = r.lossSum / r.count;
    const penalty = ortho ? orthoReg(model, cfg.orthoReg, ortho, engine.grads) : 0;
    if (cfg.clipValue > 0) clipGradValue(g, cfg.clipValue);
    const gradNorm = Math.sqrt(spread ? engine.reduceGrads!() : ops.sumSquares(g, g.length));
    const finite = Number.isFinite(loss) && Number.isFinite(gradNorm);
    if (finite) {
      // torch.nn.utils.clip_grad_norm_, then the update
      const coef = clipCoef(gradNorm, cfg.clip);
      cayley?.before();
      if (spread) {
        opt.step++;
        engine.adamUpdate!(opt, coef, adamScalars(cfg, opt.step, lr));
      } else {
        if (coef < 1) ops.scale(g, coef, g.length);
        optimizerStep(cfg, opt, model.params.data, g, lr, ops);
      }
      cayley?.after(opt.step);
      pack(model);
    }
    return { loss, penalty, gradNorm, finite };
  };
}
