// One optimizer step: gradient of a chunk (engine), orthogonal-regularisation term, clipping, update, and
// refreshing the derived weights. Shared by the training loop and `rnn bench`.
//
// With an engine of several threads and plain Adam (no orthogonal regularisation, no value clipping), the
// tail of the step runs on every thread: each sums the threads' gradients over its slice of the slab
// (reduceGrads), then clips and updates that slice (adamUpdate), instead of the calling thread doing all of
// it while the others wait. Same arithmetic per element; only the float64 sum of squares is added up in
// slices.
import type { TrainConfig } from "../config.ts";
import { type Model, pack } from "../model/model.ts";
import { orthoReg, orthoScratch } from "../model/orthoreg.ts";
import type { Rng } from "../rng.ts";
import type { Engine } from "./engine.ts";
import { adamScalars, clipGradNorm, clipGradValue, optimizerStep, type OptimizerState } from "./optim.ts";

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
  const ortho = cfg.orthoReg > 0 ? orthoScratch(model) : null;
  const spread = !!engine.reduceGrads && !!engine.adamUpdate && cfg.optimizer === "adam" && !ortho && !(cfg.clipValue > 0);
  return (chunk: number, rng: Rng, lr: number): StepResult => {
    if (spread) {
      const r = engine.run(chunk, rng, true);
      const loss = r.lossSum / r.count;
      const gradNorm = Math.sqrt(engine.reduceGrads!());
      const finite = Number.isFinite(loss) && Number.isFinite(gradNorm);
      if (finite) {
        // torch.nn.utils.clip_grad_norm_'s coefficient (as clipByNorm), applied inside the update
        const coef = cfg.clip > 0 ? Math.min(1, cfg.clip / (gradNorm + 1e-6)) : 1;
        opt.step++;
        engine.adamUpdate!(opt, coef, adamScalars(cfg, opt.step, lr));
        pack(model);
        engine.paramsChanged();
      }
      return { loss, penalty: 0, gradNorm, finite };
    }
    const r = engine.run(chunk, rng);
    const loss = r.lossSum / r.count;
    const penalty = ortho ? orthoReg(model, cfg.orthoReg, ortho, engine.grads) : 0;
    const g = engine.grads.data;
    if (cfg.clipValue > 0) clipGradValue(g, cfg.clipValue);
    const gradNorm = clipGradNorm(g, cfg.clip, model.ops);
    const finite = Number.isFinite(loss) && Number.isFinite(gradNorm);
    if (finite) {
      optimizerStep(cfg, opt, model.params.data, g, lr, model.ops);
      pack(model);
      engine.paramsChanged();
    }
    return { loss, penalty, gradNorm, finite };
  };
}
