// --init pytorch | xavier | orthogonal and --forget-bias: the PyTorch path draws exactly what it always drew,
// orthogonal recurrent blocks are orthogonal to 1e-5 in the float32 model, Xavier bounds and variances hold,
// and the forget bias lands in the LSTM's forget-gate rows only.
import { describe, expect, it } from "vitest";
import { gateCount, type InitKind, type ModelConfig, resolveTrainConfig } from "../src/config.ts";
import { refF32, refF64 } from "../src/kernels/ref.ts";
import type { Arr, Kernels } from "../src/kernels/types.ts";
import { householderQ, initParams, randomOrthogonal } from "../src/model/init.ts";
import { createModel, type Model } from "../src/model/model.ts";
import { makeRng } from "../src/rng.ts";

const mc = (o: Partial<ModelConfig> = {}): ModelConfig => ({ cell: "lstm", layers: 2, hidden: 16, embed: 0, activation: "tanh", residual: false, vocabSize: 11, ...o });

function made(cfg: ModelConfig, init: InitKind, forgetBias: number | null, seed = 3, ops: Kernels = refF32): { m: Model; rngState: number[] } {
  const m = createModel(cfg, ops);
  const rng = makeRng(seed);
  initParams(m, { init, forgetBias }, rng);
  return { m, rngState: rng.getState() };
}

/** max |WᵀW − I| and max |WWᵀ − I| of a square n×n block, in float64 */
function orthoError(W: ArrayLike<number>, n: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let a = 0, b = 0;
    for (let k = 0; k < n; k++) {
      a += W[k * n + i] * W[k * n + j];
      b += W[i * n + k] * W[j * n + k];
    }
    const e = i === j ? 1 : 0;
    worst = Math.max(worst, Math.abs(a - e), Math.abs(b - e));
  }
  return worst;
}

const stats = (w: ArrayLike<number>) => {
  let s = 0, q = 0, mx = 0;
  for (let i = 0; i < w.length; i++) { s += w[i]; q += w[i] * w[i]; mx = Math.max(mx, Math.abs(w[i])); }
  const mean = s / w.length;
  return { mean, variance: q / w.length - mean * mean, maxAbs: mx };
};

describe("--init pytorch", () => {
  it("draws exactly the original PyTorch-style stream (same values, same RNG position)", () => {
    for (const cfg of [mc({ embed: 5 }), mc({ cell: "gru" }), mc({ cell: "rnn", layers: 1 })]) {
      const { m, rngState } = made(cfg, "pytorch", null, 11);
      // the specification: spec order, row-major, N(0,1) for the embedding, U(±1/√H) for everything else
      const rng = makeRng(11);
      const k = 1 / Math.sqrt(cfg.hidden);
      const want = new Float32Array(m.spec.size);
      for (const t of m.spec.tensors) {
        for (let i = 0; i < t.size; i++) want[t.offset + i] = t.name === "embedding.weight" ? rng.normal() : rng.uniform(-k, k);
      }
      expect(Buffer.from((m.params.data as Float32Array).buffer).equals(Buffer.from(want.buffer))).toBe(true);
      expect(rngState).toEqual(rng.getState());
    }
  });

  it("--forget-bias B changes only the forget rows of the LSTM biases, after the draws", () => {
    const H = 16;
    const plain = made(mc(), "pytorch", null);
    const fb = made(mc(), "pytorch", 2.5);
    expect(fb.rngState).toEqual(plain.rngState);
    for (const t of plain.m.spec.tensors) {
      const a = plain.m.params.views[t.name], b = fb.m.params.views[t.name];
      for (let i = 0; i < t.size; i++) {
        const forgetRow = /^rnn\.bias_/.test(t.name) && i >= H && i < 2 * H;
        if (!forgetRow) expect(b[i]).toBe(a[i]);
        else expect(b[i]).toBe(t.name.startsWith("rnn.bias_ih") ? 2.5 : 0);
      }
    }
    for (const L of fb.m.layers) for (let j = 0; j < 4 * H; j++) if (j >= H && j < 2 * H) expect(L.bsum[j]).toBe(2.5);
  });
});

describe("--init orthogonal", () => {
  for (const cell of ["rnn", "lstm", "gru"] as const) {
    it(`${cell}: every H×H gate block of weight_hh is orthogonal to 1e-5 (float32 model)`, () => {
      for (const H of [8, 48]) {
        const { m } = made(mc({ cell, hidden: H, embed: 4 }), "orthogonal", null, 5);
        const G = gateCount({ cell });
        const blocks: Arr[] = [];
        for (const L of m.layers) for (let g = 0; g < G; g++) blocks.push(L.whh.subarray(g * H * H, (g + 1) * H * H));
        for (const W of blocks) expect(orthoError(W, H)).toBeLessThan(1e-5);
        // random, not a fixed matrix: blocks differ from each other and from the identity
        for (let i = 1; i < blocks.length; i++) expect(Array.from(blocks[i])).not.toEqual(Array.from(blocks[0]));
        expect(orthoError(blocks[0], H)).toBeLessThan(1e-5);
        let diagSum = 0;
        for (let i = 0; i < H; i++) diagSum += Math.abs(blocks[0][i * H + i]);
        expect(diagSum).toBeLessThan(0.8 * H);
      }
    });
  }

  it("input weights are Xavier, biases 0, forget bias 1 by default (resolveTrainConfig) in the LSTM", () => {
    const cfg = resolveTrainConfig({ init: "orthogonal", model: { cell: "lstm", hidden: 32, layers: 2, vocabSize: 40 } }, { threads: 1, out: "x" });
    expect(cfg.forgetBias).toBe(1);
    const { m } = made(cfg.model, cfg.init, cfg.forgetBias);
    const a0 = Math.sqrt(6 / (40 + 32)), a1 = Math.sqrt(6 / (32 + 32));
    expect(stats(m.layers[0].wih).maxAbs).toBeLessThanOrEqual(a0);
    expect(stats(m.layers[1].wih).maxAbs).toBeLessThanOrEqual(a1);
    for (const L of m.layers) for (let j = 0; j < 4 * 32; j++) expect(L.bsum[j]).toBe(j >= 32 && j < 64 ? 1 : 0);
  });

  it("is deterministic by seed and differs across seeds", () => {
    const a = made(mc({ cell: "rnn" }), "orthogonal", null, 1).m.params.data;
    const b = made(mc({ cell: "rnn" }), "orthogonal", null, 1).m.params.data;
    const c = made(mc({ cell: "rnn" }), "orthogonal", null, 2).m.params.data;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });
});

describe("--init xavier", () => {
  it("U(±√(6/(fan_in+fan_out))) per gate block, decoder too; biases 0; embedding N(0,1)", () => {
    const H = 64, V = 30, E = 20;
    const { m } = made(mc({ cell: "gru", hidden: H, vocabSize: V, embed: E }), "xavier", null, 9, refF64);
    const check = (w: Arr, fanIn: number, fanOut: number) => {
      const a = Math.sqrt(6 / (fanIn + fanOut));
      const s = stats(w);
      expect(s.maxAbs).toBeLessThanOrEqual(a);
      expect(s.maxAbs).toBeGreaterThan(0.95 * a);
      expect(Math.abs(s.variance / (a * a / 3) - 1)).toBeLessThan(0.1); // U(±a) has variance a²/3
      expect(Math.abs(s.mean)).toBeLessThan(0.05 * a);
    };
    check(m.layers[0].wih, E, H);
    check(m.layers[1].wih, H, H);
    for (const L of m.layers) check(L.whh, H, H);
    check(m.params.views["decoder.weight"], H, V);
    for (const name of ["decoder.bias", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "rnn.bias_ih_l1", "rnn.bias_hh_l1"] as const) {
      expect(stats(m.params.views[name]).maxAbs).toBe(0);
    }
    const e = stats(m.params.views["embedding.weight"]);
    expect(Math.abs(e.variance - 1)).toBeLessThan(0.15);
  });
});

describe("householderQ", () => {
  it("A = QR with Q orthogonal and R upper triangular with a positive diagonal", () => {
    const rng = makeRng(4);
    for (const n of [1, 2, 7, 30]) {
      const A0 = Float64Array.from({ length: n * n }, () => rng.normal());
      const R = A0.slice(), Q = new Float64Array(n * n);
      householderQ(Q, R, n);
      expect(orthoError(Q, n)).toBeLessThan(1e-12);
      for (let i = 0; i < n; i++) {
        expect(R[i * n + i]).toBeGreaterThan(0);
        for (let j = 0; j < i; j++) expect(Math.abs(R[i * n + j])).toBeLessThan(1e-12);
      }
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += Q[i * n + k] * R[k * n + j];
        expect(s).toBeCloseTo(A0[i * n + j], 10);
      }
    }
  });

  it("random orthogonal matrices are unbiased: entries average 0 with E[q²] = 1/n", () => {
    const rng = makeRng(8), n = 3, draws = 3000;
    const sum = new Float64Array(n * n), sq = new Float64Array(n * n), Q = new Float64Array(n * n);
    for (let d = 0; d < draws; d++) {
      randomOrthogonal(Q, n, rng);
      for (let i = 0; i < n * n; i++) { sum[i] += Q[i]; sq[i] += Q[i] * Q[i]; }
    }
    for (let i = 0; i < n * n; i++) {
      expect(Math.abs(sum[i] / draws)).toBeLessThan(0.05);
      expect(Math.abs(sq[i] / draws - 1 / n)).toBeLessThan(0.03);
    }
  });
});
