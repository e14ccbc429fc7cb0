// Every backward pass against float64 central differences: each cell (the LSTM without forget gate too), one-hot and embedding input, the
// decoder and softmax cross-entropy, through T = 4 steps with a carried (non-zero) state and 2 layers.
import { describe, expect, it } from "vitest";
import type { ModelConfig } from "../src/config.ts";
import { refF64 } from "../src/kernels/ref.ts";
import { backward, forward, pack } from "../src/model/model.ts";
import { makeSlab } from "../src/model/params.ts";
import { gradcheck, setup } from "./helpers/gradcheck.ts";

const cases: [string, Partial<ModelConfig>][] = [
  ["rnn-tanh", { cell: "rnn", activation: "tanh" }],
  ["rnn-relu", { cell: "rnn", activation: "relu" }],
  ["lstm", { cell: "lstm" }],
  ["lstm-nofg", { cell: "lstm", forgetGate: false }],
  ["gru", { cell: "gru" }],
];

function checkModel(mc: ModelConfig, opts: { eps?: number } = {}) {
  const { m, ws, st, setState } = setup(mc);
  const loss = () => {
    pack(m);
    setState();
    const r = forward(m, ws, st, { grad: false });
    return r.lossSum / r.count;
  };
  setState();
  forward(m, ws, st, { grad: true });
  const grads = makeSlab(m.spec, (n) => refF64.alloc(n));
  backward(m, ws, grads);
  const res = gradcheck(m.params.data, grads.data, loss, { eps: opts.eps });
  // name the tensor of the worst element, for a useful failure message
  const t = m.spec.tensors.find((t) => res.worst.index >= t.offset && res.worst.index < t.offset + t.size);
  return { ...res, tensor: t?.name };
}

describe("float64 gradient check, 2 layers, T=4, carried state", () => {
  for (const [name, mc] of cases) {
    for (const embed of [0, 3]) {
      it(`${name} ${embed ? "embedding" : "one-hot"}`, () => {
        const cfg: ModelConfig = { cell: "lstm", layers: 2, hidden: 5, embed, activation: "tanh", residual: false, vocabSize: 6, ...mc };
        // ReLU has kinks: a step of 2ε must not carry a pre-activation across 0, so its ε is smaller.
        const r = checkModel(cfg, { eps: cfg.activation === "relu" ? 1e-4 : undefined });
        expect(r.checked).toBeGreaterThan(100);
        expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
      });
    }
  }
});
