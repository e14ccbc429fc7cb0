// Parameter initialisation. The default is PyTorch's, so runs compare with PyTorch run for run:
//   nn.RNN / nn.LSTM / nn.GRU: every weight and bias ~ U(−1/√H, 1/√H)
//   nn.Linear(H, V) (decoder): weight and bias ~ U(−1/√H, 1/√H)  (kaiming_uniform(a=√5) with fan_in = H)
//   nn.Embedding(V, E): weight ~ N(0, 1)
// Tensors are filled in spec order, each in row-major order, from one seeded stream.
import type { TrainConfig } from "../config.ts";
import type { Rng } from "../rng.ts";
import type { Model } from "./model.ts";
import { pack } from "./model.ts";

export function initParams(m: Model, cfg: Pick<TrainConfig, "init" | "forgetBias">, rng: Rng): void {
  const H = m.cfg.hidden;
  const k = 1 / Math.sqrt(H);
  for (const t of m.spec.tensors) {
    const w = m.params.views[t.name];
    if (t.name === "embedding.weight") for (let i = 0; i < w.length; i++) w[i] = rng.normal();
    else for (let i = 0; i < w.length; i++) w[i] = rng.uniform(-k, k);
  }
  pack(m);
}
