// Every backward pass against float64 central differences: each cell, one-hot and embedding input, the
// decoder and softmax cross-entropy, through T = 4 steps with a carried (non-zero) state and 2 layers.
import { describe, expect, it } from "vitest";
import type { ModelConfig } from "../src/config.ts";
import { refF64 } from "../src/kernels/ref.ts";
import { initParams } from "../src/model/init.ts";
import { backward, createModel, createState, createWorkspace, forward, pack } from "../src/model/model.ts";
import { makeSlab } from "../src/model/params.ts";
import { makeRng } from "../src/rng.ts";
import { gradcheck } from "./helpers/gradcheck.ts";

const cases: [string, Partial<ModelConfig>][] = [
  ["rnn-tanh", { cell: "rnn", activation: "tanh" }],
  ["rnn-relu", { cell: "rnn", activation: "relu" }],
  ["lstm", { cell: "lstm" }],
  ["gru", { cell: "gru" }],
];

export function checkModel(mc: ModelConfig, opts: { B?: number; T?: number; seed?: number; eps?: number } = {}) {
  const B = opts.B ?? 2, T = opts.T ?? 4;
  const K = refF64;
  const m = createModel(mc, K);
  const rng = makeRng(opts.seed ?? 7);
  initParams(m, { init: "pytorch", forgetBias: null }, rng);
  // larger weights than the default init so every path carries real signal
  for (let i = 0; i < m.params.data.length; i++) m.params.data[i] *= 1.5;
  pack(m);
  const ws = createWorkspace(m, B, T);
  for (let i = 0; i < B * T; i++) {
    ws.idx[i] = rng.int(mc.vocabSize);
    ws.targets[i] = rng.int(mc.vocabSize);
  }
  const h0 = createState(m, B);
  for (const a of [...h0.h, ...h0.c]) for (let i = 0; i < a.length; i++) a[i] = rng.uniform(-0.8, 0.8);
  const st = createState(m, B);
  const setState = () => {
    h0.h.forEach((a, l) => st.h[l].set(a));
    h0.c.forEach((a, l) => st.c[l].set(a));
  };
  const loss = () => {
    pack(m);
    setState();
    const r = forward(m, ws, st, { grad: false });
    return r.lossSum / r.count;
  };
  setState();
  forward(m, ws, st, { grad: true });
  const grads = makeSlab(m.spec, (n) => K.alloc(n));
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
