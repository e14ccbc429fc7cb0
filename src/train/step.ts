// One optimizer step: gradient of a chunk (engine), orthogonal-regularisation term, clipping, update, and
// refreshing the derived weights. Shared by the training loop and `rnn bench`.
import type { TrainConfig } from "../config.ts";
import { type Model, pack } from "../model/model.ts";
import { orthoReg, orthoScratch } from "../model/orthoreg.ts";
import type { Rng } from "../rng.ts";
import type { Engine } from "./engine.ts";
import { clipGradNorm, clipGradValue, optimizerStep, type OptimizerState } from "./optim.ts";

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
  return (chunk: number, rng: Rng, lr: number): StepResult => {
    const r = engine.run(chunk, rng);
    const loss = r.lossSum / r.count;
    const penalty = ortho ? orthoReg(model, cfg.orthoReg, ortho, engine.grads) : 0;
    const g = engine.grads.data;
    if (cfg.clipValue > 0) clipGradValue(g, cfg.clipValue);
    const gradNorm = clipGradNorm(g, cfg.clip);
    const finite = Number.isFinite(loss) && Number.isFinite(gradNorm);
    if (finite) {
      optimizerStep(cfg, opt, model.params.data, g, lr);
      pack(model);
      engine.paramsChanged();
    }
    return { loss, penalty, gradNorm, finite };
  };
}
