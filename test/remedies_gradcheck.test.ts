// Float64 gradient checks of the remedies' code paths: --ortho-reg (its penalty alone and added to the
// loss), --residual (3 stacked layers), --dropout p > 0 with a FIXED mask (the rng is re-seeded identically
// for every loss evaluation, so every forward draws the same mask), and both together. Plus the dropout-off
// path of a training workspace (dropout buffers allocated, p = 0 at evaluation) against the plain one.
import { describe, expect, it } from "vitest";
import { gateCount, type ModelConfig } from "../src/config.ts";
import { refF64 } from "../src/kernels/ref.ts";
import { initParams } from "../src/model/init.ts";
import { backward, createModel, createState, createWorkspace, forward, type Model, pack, type State, type Workspace } from "../src/model/model.ts";
import { orthoReg, orthoScratch } from "../src/model/orthoreg.ts";
import { makeSlab } from "../src/model/params.ts";
import { makeRng } from "../src/rng.ts";
import { gradcheck, setup } from "./helpers/gradcheck.ts";

const ops = refF64;
const MASK_SEED = 99;

/** Gradcheck of mean CE (+ λ·penalty) with dropout p under a fixed mask. */
function check(mc: ModelConfig, o: { dropout?: number; lambda?: number; onlyPenalty?: boolean } = {}) {
  const p = o.dropout ?? 0, lambda = o.lambda ?? 0;
  const { m, ws, st, setState } = setup(mc, { dropout: p > 0 });
  const scratch = orthoScratch(m);
  const fwd = (grad: boolean) => forward(m, ws, st, { grad, dropout: p, rng: makeRng(MASK_SEED) });
  const loss = () => {
    pack(m);
    setState();
    let L = 0;
    if (!o.onlyPenalty) {
      const r = fwd(false);
      L = r.lossSum / r.count;
    }
    if (lambda) L += orthoReg(m, lambda, scratch, null);
    return L;
  };
  const grads = makeSlab(m.spec, (n) => ops.alloc(n));
  setState();
  if (!o.onlyPenalty) {
    fwd(true);
    backward(m, ws, grads);
  }
  if (lambda) orthoReg(m, lambda, scratch, grads);
  const res = gradcheck(m.params.data, grads.data, loss);
  const t = m.spec.tensors.find((t) => res.worst.index >= t.offset && res.worst.index < t.offset + t.size);
  return { ...res, tensor: t?.name, m, ws, grads };
}

const base = (o: Partial<ModelConfig>): ModelConfig => ({ cell: "lstm", layers: 2, hidden: 5, embed: 0, activation: "tanh", residual: false, vocabSize: 6, ...o });
const cells: [string, Partial<ModelConfig>][] = [["rnn-tanh", { cell: "rnn" }], ["lstm", { cell: "lstm" }], ["lstm-nofg", { cell: "lstm", forgetGate: false }], ["gru", { cell: "gru" }]];

describe("--ortho-reg: λ Σ‖W_gᵀW_g − I‖²_F over the gate blocks of weight_hh", () => {
  for (const [name, c] of cells) {
    it(`${name}: the penalty's own gradient (only weight_hh entries non-zero)`, () => {
      const r = check(base(c), { lambda: 0.3, onlyPenalty: true });
      expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
      for (const t of r.m.spec.tensors) {
        const g = r.grads.views[t.name];
        const nz = g.some((v) => v !== 0);
        expect(nz, t.name).toBe(t.name.startsWith("rnn.weight_hh"));
      }
    });
    it(`${name}: cross-entropy + penalty, embedding input`, () => {
      const r = check(base({ ...c, embed: 3 }), { lambda: 0.05 });
      expect(r.checked).toBeGreaterThan(100);
      expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
    });
  }

  it("the penalty equals the direct sum, and is ~0 for an orthogonal init", () => {
    const H = 5;
    for (const [, c] of cells) {
      const { m } = setup(base(c));
      const G = gateCount(m.cfg);
      let want = 0;
      for (const L of m.layers) for (let g = 0; g < G; g++) {
        const W = L.whh.subarray(g * H * H, (g + 1) * H * H);
        for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) {
          let s = 0;
          for (let k = 0; k < H; k++) s += W[k * H + i] * W[k * H + j];
          want += (s - (i === j ? 1 : 0)) ** 2;
        }
      }
      expect(want).toBeGreaterThan(0.1);
      expect(orthoReg(m, 0.7, orthoScratch(m), null)).toBeCloseTo(0.7 * want, 10);
      const o = setup(base(c), { init: "orthogonal" }).m;
      expect(orthoReg(o, 1, orthoScratch(o), null)).toBeLessThan(1e-20);
    }
  });
});

describe("--residual: y = x + f(x) between 3 stacked layers", () => {
  for (const [name, c] of cells) {
    for (const embed of [0, 3]) {
      it(`${name} ${embed ? "embedding" : "one-hot"}`, () => {
        const r = check(base({ ...c, layers: 3, residual: true, embed }));
        expect(r.checked).toBeGreaterThan(200);
        expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
      });
    }
  }
});

describe("--dropout p = 0.3 with a fixed mask", () => {
  for (const [name, c] of cells) {
    it(`${name}, 2 layers, embedding`, () => {
      const r = check(base({ ...c, embed: 3 }), { dropout: 0.3 });
      expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
      // the mask really drops units and scales the kept ones by 1/(1−p): the check is not of a no-op
      for (const mask of r.ws.masks) {
        const vals = new Set(Array.from(mask!));
        expect([...vals].sort()).toEqual([0, 1 / 0.7].sort());
      }
    });
    it(`${name}, 3 layers, residual and dropout together`, () => {
      const r = check(base({ ...c, layers: 3, residual: true }), { dropout: 0.3, lambda: 0.05 });
      expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
    });
  }

  it("the same seed gives the same mask; dropout changes the loss", () => {
    const { m, ws, st, setState } = setup(base({ cell: "gru" }), { dropout: true });
    const run = (p: number, seed: number) => {
      setState();
      return forward(m, ws, st, { grad: false, dropout: p, rng: makeRng(seed) }).lossSum;
    };
    expect(run(0.3, 1)).toBe(run(0.3, 1));
    expect(run(0.3, 1)).not.toBe(run(0.3, 2));
    expect(run(0.3, 1)).not.toBe(run(0, 1));
  });

  it("off (p = 0) in a training workspace equals the plain path: same loss, same gradient", () => {
    for (const [, c] of cells) {
      const mc = base({ ...c, layers: 3, residual: true, embed: 3 });
      const a = setup(mc, { dropout: true }), b = setup(mc, { dropout: false });
      const ga = makeSlab(a.m.spec, (n) => ops.alloc(n)), gb = makeSlab(b.m.spec, (n) => ops.alloc(n));
      a.setState();
      b.setState();
      const ra = forward(a.m, a.ws, a.st, { grad: true, dropout: 0, rng: makeRng(1) });
      const rb = forward(b.m, b.ws, b.st, { grad: true });
      expect(a.ws.dropped).toBe(false);
      expect(ra.lossSum).toBe(rb.lossSum);
      backward(a.m, a.ws, ga);
      backward(b.m, b.ws, gb);
      expect(Array.from(ga.data)).toEqual(Array.from(gb.data));
    }
  });
});
