// --norm: every normalised cell against float64 central differences — rnn tanh/relu, lstm, the LSTM without
// forget gate and gru, each with layer norm and with batch norm (its statistics over the B = 6 streams of each
// step, as training takes them) — through T = 4 steps with a carried (non-zero) state h0 (and c0) and 2
// layers, one-hot and embedding input, every parameter checked: the weights, the biases (the β's of the
// normalisations) and the gains γ (set away from their initial value, so their gradients are not special).
// The running statistics are buffers, not parameters: not in the slab checked, and left alone here.
import { describe, expect, it } from "vitest";
import type { ModelConfig, NormKind } from "../src/config.ts";
import { backward, forward, pack } from "../src/model/model.ts";
import { makeSlab, normTensorOf } from "../src/model/params.ts";
import { refF64 } from "../src/kernels/ref.ts";
import { makeRng } from "../src/rng.ts";
import { gradcheck, setup } from "./helpers/gradcheck.ts";

const cells: [string, Partial<ModelConfig>][] = [
  ["rnn-tanh", { cell: "rnn", activation: "tanh" }],
  ["rnn-relu", { cell: "rnn", activation: "relu" }],
  ["lstm", { cell: "lstm" }],
  ["lstm-nofg", { cell: "lstm", forgetGate: false }],
  ["gru", { cell: "gru" }],
];
const NORMS: NormKind[] = ["layer", "batch"];

function check(mc: ModelConfig, o: { eps?: number; B?: number; dropout?: number } = {}) {
  const { m, ws, st, setState } = setup(mc, { B: o.B ?? 2, dropout: !!o.dropout });
  const stats0 = Array.from(m.stats.data);
  // gains and c's β away from their initial values (every one different)
  const rng = makeRng(11);
  for (const t of m.spec.tensors) if (normTensorOf(t.name)) for (let i = 0; i < t.size; i++) m.params.views[t.name][i] = rng.uniform(0.5, 1.5) * (normTensorOf(t.name) === "bc" ? rng.uniform(-1, 1) : 1);
  pack(m);
  // dropout: the same mask for every loss evaluation (the generator re-seeded)
  const run = (grad: boolean) => forward(m, ws, st, { grad, training: true, updateStats: false, dropout: o.dropout, rng: makeRng(99) });
  const loss = () => {
    pack(m);
    setState();
    const r = run(false);
    return r.lossSum / r.count;
  };
  setState();
  run(true);
  const grads = makeSlab(m.spec, (n) => refF64.alloc(n));
  backward(m, ws, grads);
  const res = gradcheck(m.params.data, grads.data, loss, { eps: o.eps ?? 3e-4 });
  const t = m.spec.tensors.find((t) => res.worst.index >= t.offset && res.worst.index < t.offset + t.size);
  return { ...res, tensor: t?.name, m, grads, stats0 };
}

describe("--norm: float64 gradient check, 2 layers, T=4, carried state", () => {
  for (const norm of NORMS) {
    for (const [name, c] of cells) {
      for (const embed of [0, 3]) {
        it(`${norm} ${name} ${embed ? "embedding" : "one-hot"}`, () => {
          const cfg: ModelConfig = { cell: "lstm", layers: 2, hidden: 5, embed, activation: "tanh", residual: false, vocabSize: 6, ...c, norm };
          // batch norm: the statistics of B = 6 streams per step (with fewer the normalised values are so
          // curved in the parameters that the fourth-order difference with ε = 3e-4 no longer resolves them)
          const r = check(cfg, { B: norm === "batch" ? 6 : 2 });
          expect(r.checked).toBeGreaterThan(100);
          expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
          // the gains are parameters with real gradients
          const gains = r.m.spec.tensors.filter((t) => normTensorOf(t.name));
          expect(gains.length).toBe(2 * (c.cell === "lstm" ? 4 : 2));
          for (const t of gains) expect(r.grads.views[t.name].some((v) => v !== 0), t.name).toBe(true);
          expect(r.m.stats.data.length).toBe(norm === "batch" ? 2 * (2 * 2 * r.m.layers[0].bih.length + (c.cell === "lstm" ? 2 * 5 : 0)) : 0);
          expect(Array.from(r.m.stats.data)).toEqual(r.stats0); // updateStats: false
        });
      }
    }
  }
});

describe("--norm with the remedies: 3 layers, residual, dropout 0.3 (a fixed mask), embedding", () => {
  for (const norm of NORMS) {
    for (const [name, c] of [["lstm", { cell: "lstm" }], ["gru", { cell: "gru" }]] as const) {
      it(`${norm} ${name}`, () => {
        const cfg: ModelConfig = { layers: 3, hidden: 5, embed: 3, activation: "tanh", residual: true, vocabSize: 6, ...c, norm };
        const r = check(cfg, { B: norm === "batch" ? 8 : 2, dropout: 0.3 });
        expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
      });
    }
  }
});
