// rnn diagnose: the probed gradients are the true ∂L_T/∂h_s (finite differences in float64, through stacked and
// residual layers), probing leaves the training gradients untouched, the decay is exponential on a fresh plain
// RNN and slower with an LSTM or an orthogonal init, and the singular values and saturation shares are right.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/main.ts";
import { type InitKind, type ModelConfig } from "../src/config.ts";
import { diagnose, fitExponential, probeBackward, singularValues, stateRun, streamStarts } from "../src/diagnose/diagnose.ts";
import { refF64 } from "../src/kernels/ref.ts";
import type { Arr } from "../src/kernels/types.ts";
import { cellOf } from "../src/model/cells/index.ts";
import { householderQ, initParams } from "../src/model/init.ts";
import { createModel, createState, createWorkspace, forward, type Model, pack } from "../src/model/model.ts";
import { makeRng } from "../src/rng.ts";

const ops = refF64;
const mc = (o: Partial<ModelConfig>): ModelConfig => ({ cell: "rnn", layers: 1, hidden: 6, embed: 0, activation: "tanh", residual: false, vocabSize: 7, ...o });

function model(cfg: ModelConfig, init: InitKind = "pytorch", forgetBias: number | null = null, seed = 5, scale = 1): Model {
  const m = createModel(cfg, ops);
  initParams(m, { init, forgetBias }, makeRng(seed));
  if (scale !== 1) {
    for (let i = 0; i < m.params.data.length; i++) m.params.data[i] *= scale;
    pack(m);
  }
  return m;
}

/** A chunk whose loss is the last step's only; returns a loss(state) function and the probed gradients. */
function lastStepChunk(m: Model, B: number, T: number, seed = 1) {
  const rng = makeRng(seed);
  const idx = Int32Array.from({ length: T * B }, () => rng.int(m.cfg.vocabSize));
  const tgt = Int32Array.from({ length: B }, () => rng.int(m.cfg.vocabSize));
  const h0 = createState(m, B);
  for (const a of [...h0.h, ...h0.c]) for (let i = 0; i < a.length; i++) a[i] = rng.uniform(-0.5, 0.5);
  /** loss of the steps from..T−1 of the chunk, started from `init` (per layer h, c) */
  const lossFrom = (from: number, init: { h: Arr[]; c: Arr[] }) => {
    const ws = createWorkspace(m, B, T - from, { grad: false });
    ws.idx.set(idx.subarray(from * B));
    ws.targets.fill(-1);
    ws.targets.set(tgt, (T - from - 1) * B);
    const st = createState(m, B);
    init.h.forEach((a, l) => st.h[l].set(a));
    init.c.forEach((a, l) => st.c[l].set(a));
    const r = forward(m, ws, st, { grad: false });
    return r.lossSum / r.count;
  };
  const ws = createWorkspace(m, B, T);
  ws.idx.set(idx);
  ws.targets.fill(-1);
  ws.targets.set(tgt, (T - 1) * B);
  const st = createState(m, B);
  h0.h.forEach((a, l) => st.h[l].set(a));
  h0.c.forEach((a, l) => st.c[l].set(a));
  const grads = m.layers.map(() => new Map<number, Float64Array>());
  probeBackward(m, ws, st, (l, s, dh) => grads[l].set(s, Float64Array.from(dh)));
  return { h0, grads, lossFrom, ws };
}

/** central difference of f with respect to every element of x */
function numericGrad(x: Arr, f: () => number, eps = 1e-5): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const old = x[i];
    x[i] = old + eps; const a = f();
    x[i] = old - eps; const b = f();
    x[i] = old;
    g[i] = (a - b) / (2 * eps);
  }
  return g;
}

const maxRel = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]) / Math.max(Math.abs(a[i]) + Math.abs(b[i]), 1e-9));
  return w;
};

const CELLS: [string, Partial<ModelConfig>][] = [["rnn", { cell: "rnn" }], ["lstm", { cell: "lstm" }], ["lstm-nofg", { cell: "lstm", forgetGate: false }], ["gru", { cell: "gru" }]];

describe("probed gradients are ∂L_T/∂h_s", () => {
  for (const [cell, c] of CELLS) {
    it(`${cell}: ∂L_T/∂h_0 of every layer (3 layers, residual, embedding) against finite differences`, () => {
      const m = model(mc({ ...c, layers: 3, residual: true, embed: 3 }), "pytorch", null, 5, 1.5);
      const { h0, grads, lossFrom } = lastStepChunk(m, 2, 5);
      for (let l = 0; l < 3; l++) {
        const num = numericGrad(h0.h[l], () => lossFrom(0, h0));
        expect(Math.max(...num.map(Math.abs))).toBeGreaterThan(1e-6); // a real signal, not 0 = 0
        expect(maxRel(grads[l].get(0)!, num), `layer ${l}`).toBeLessThan(1e-6);
      }
    });

    it(`${cell}: ∂L_T/∂h_s at every s, from the suffix of the chunk started in h_s`, () => {
      const m = model(mc(c), "pytorch", null, 6, 1.5);
      const T = 5, B = 2, H = 6;
      const { grads, lossFrom, ws } = lastStepChunk(m, B, T, 2);
      expect([...grads[0].keys()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
      for (let s = 1; s < T; s++) {
        const hs = Float64Array.from(ws.layers[0].hAt[s]);
        const cs = c.cell === "lstm" ? [Float64Array.from(ws.layers[0].cAt[s])] : [];
        const num = numericGrad(hs, () => lossFrom(s, { h: [hs], c: cs }));
        expect(num.length).toBe(B * H);
        expect(maxRel(grads[0].get(s)!, num), `s=${s}`).toBeLessThan(1e-6);
      }
    });

    it(`${cell}: probing leaves the layer's backward results (∂L/∂pre-activations) unchanged`, () => {
      const m = model(mc({ ...c, hidden: 5 }), "pytorch", null, 3, 1.5);
      const B = 2, T = 4, H = 5, N = B * T;
      const ws = createWorkspace(m, B, T);
      const rng = makeRng(4);
      for (let i = 0; i < N; i++) { ws.idx[i] = rng.int(7); ws.targets[i] = rng.int(7); }
      forward(m, ws, createState(m, B), { grad: true });
      const Lb = ws.layers[0];
      const gates0 = Float64Array.from(Lb.gates), hh0 = Float64Array.from(Lb.hh);
      const dOut = Float64Array.from({ length: N * H }, () => rng.uniform(-1, 1));
      const run = (probe?: (t: number, dh: Arr) => void) => {
        Lb.gates.set(gates0);
        Lb.hh.set(hh0);
        cellOf(m.cfg).backward(ops, Lb, m.layers[0], null, dOut, B, T, H, m.cfg, probe);
        return [Array.from(Lb.gates), Array.from(Lb.hh)];
      };
      const calls: number[] = [];
      const plain = run();
      const probed = run((t) => calls.push(t));
      expect(probed).toEqual(plain);
      expect(calls).toEqual([4, 3, 2, 1, 0]);
    });
  }
});

describe("gradient decay through time", () => {
  const H = 64, V = 20, T = 40, B = 4;
  const text = (() => {
    const rng = makeRng(9);
    return Int32Array.from({ length: 2000 }, () => rng.int(V));
  })();
  const run = (cfg: Partial<ModelConfig>, init: InitKind = "pytorch", fb: number | null = null) =>
    diagnose(model(mc({ hidden: H, vocabSize: V, ...cfg }), init, fb, 11), text, { T, B });

  it("is exponential on a fresh plain RNN, and slower for an LSTM (forget bias 1) and an orthogonal RNN", () => {
    const rnn = run({ cell: "rnn" });
    const r = rnn.layers[0];
    expect(r.gradNorm).toHaveLength(T + 1);
    expect(r.r2).toBeGreaterThan(0.98); // a straight line on a log scale
    expect(r.decayPerStep).toBeLessThan(0.8);
    expect(r.gradNorm[T] / r.gradNorm[1]).toBeLessThan(1e-4);
    for (let k = 2; k <= T; k++) expect(r.gradNorm[k]).toBeLessThan(r.gradNorm[k - 1]);

    const orth = run({ cell: "rnn" }, "orthogonal").layers[0];
    const lstm = run({ cell: "lstm" }, "xavier", 1).layers[0];
    for (const o of [orth, lstm]) {
      expect(o.decayPerStep).toBeGreaterThan(r.decayPerStep + 0.1);
      expect(o.gradNorm[T] / o.gradNorm[1]).toBeGreaterThan(1e3 * (r.gradNorm[T] / r.gradNorm[1]));
    }
    expect(rnn.lastLoss).toBeGreaterThan(0);
  });

  it("reports singular values per gate block: 1 for every orthogonal block", () => {
    const d = run({ cell: "lstm", hidden: 16 }, "orthogonal", 1);
    const s = d.layers[0].spectral;
    expect(s.map((x) => x.name)).toEqual(["W_hh", "i", "f", "g", "o"]);
    for (const b of s.slice(1)) {
      expect(b.max).toBeCloseTo(1, 6);
      expect(b.min).toBeCloseTo(1, 6);
    }
    expect(s[0].max).toBeCloseTo(2, 6); // four stacked orthogonal blocks: WᵀW = 4I
  });

  it("measures saturation: huge weights saturate, tiny ones do not, a big forget bias holds f at 1", () => {
    const big = diagnose(model(mc({ hidden: 16, vocabSize: V }), "pytorch", null, 1, 40), text, { T: 10, B: 2 });
    expect(big.layers[0].saturation[0].share).toBeGreaterThan(0.5);
    expect(big.layers[0].saturation[0].low).toBeGreaterThan(0.2);
    expect(big.layers[0].saturation[0].high).toBeGreaterThan(0.2);
    const tiny = diagnose(model(mc({ hidden: 16, vocabSize: V }), "pytorch", null, 1, 0.01), text, { T: 10, B: 2 });
    expect(tiny.layers[0].saturation[0].share).toBe(0);
    const lstm = diagnose(model(mc({ cell: "lstm", hidden: 16, vocabSize: V }), "xavier", 8), text, { T: 10, B: 2 });
    const sat = Object.fromEntries(lstm.layers[0].saturation.map((x) => [x.name, x]));
    expect(Object.keys(sat)).toEqual(["i", "f", "g", "o", "tanh c"]);
    expect(sat.f.high).toBeGreaterThan(0.9);
    expect(sat.i.share).toBeLessThan(0.1);
    const relu = diagnose(model(mc({ hidden: 16, vocabSize: V, activation: "relu" }), "pytorch", null, 1), text, { T: 10, B: 2 });
    const dead = relu.layers[0].saturation[0];
    expect(dead.low).toBeGreaterThan(0.2); // about half of ReLU units are 0 at init
    expect(dead.low).toBeLessThan(0.8);
  });
});

describe("the carried-state run: ‖c_t‖ by step", () => {
  const V = 20, H = 16, T = 10, B = 3;
  const text = (() => {
    const rng = makeRng(12);
    return Int32Array.from({ length: 3000 }, () => rng.int(V));
  })();

  it("is the state carried exactly: 6 chunks of T give the norms and losses of one chunk of 6T", () => {
    const m = model(mc({ cell: "lstm", forgetGate: false, layers: 2, hidden: H, vocabSize: V }), "pytorch", null, 4);
    const run = stateRun(m, text, { T, B, chunks: 6 });
    const one = stateRun(m, text.subarray(0, text.length), { T: 6 * T, B, chunks: 1 });
    expect(run.steps).toBe(6 * T);
    expect(run.cNorm!.map((c) => c.length)).toEqual([6 * T + 1, 6 * T + 1]);
    for (let l = 0; l < 2; l++) {
      expect(run.cNorm![l][0]).toBe(0);
      for (let t = 1; t <= 6 * T; t++) expect(run.cNorm![l][t]).toBeCloseTo(one.cNorm![l][t], 10);
    }
    const mean = run.loss.reduce((a, b) => a + b, 0) / run.loss.length;
    expect(mean).toBeCloseTo(one.loss[0], 10);
    // ‖c_t‖ by hand for the last step of layer 1: the norm of each stream's c, averaged
    const ws = createWorkspace(m, B, 6 * T, { grad: false });
    const starts = streamStarts(text.length, B, 6 * T);
    for (let t = 0; t < 6 * T; t++) for (let b = 0; b < B; b++) {
      ws.idx[t * B + b] = text[starts[b] + t];
      ws.targets[t * B + b] = text[starts[b] + t + 1];
    }
    const st = createState(m, B);
    forward(m, ws, st, { grad: false });
    let want = 0;
    for (let b = 0; b < B; b++) want += Math.hypot(...st.c[1].subarray(b * H, (b + 1) * H)) / B;
    expect(run.cNorm![1][6 * T]).toBeCloseTo(want, 12);
  });

  it("without forget gate ‖c_t‖ keeps growing; with one (forget bias 1) it levels off", () => {
    const chunks = 30, S = chunks * T;
    const nofg = stateRun(model(mc({ cell: "lstm", forgetGate: false, hidden: H, vocabSize: V }), "xavier", null, 2), text, { T, B, chunks });
    const lstm = stateRun(model(mc({ cell: "lstm", hidden: H, vocabSize: V }), "xavier", 1, 2), text, { T, B, chunks });
    const a = nofg.cNorm![0], b = lstm.cNorm![0];
    expect(a[S]).toBeGreaterThan(2.5 * a[S / 3]); // about linear growth: each unit's i ⊙ g drifts one way
    expect(b[S]).toBeLessThan(1.5 * b[S / 3]); // bounded: f < 1 forgets
    expect(a[S]).toBeGreaterThan(10 * b[S]);
    // and tanh(c) saturates in the end without forget gate
    const sat = Object.fromEntries(nofg.saturation[0].map((x) => [x.name, x.share]));
    expect(Object.keys(sat)).toEqual(["i", "g", "o", "tanh c"]);
    expect(sat["tanh c"]).toBeGreaterThan(0.5);
  });

  it("cells without c report no norms but the loss of each chunk; a short text gets fewer chunks", () => {
    for (const cell of ["rnn", "gru"] as const) {
      const r = stateRun(model(mc({ cell, hidden: H, vocabSize: V })), text, { T, B, chunks: 4 });
      expect(r.cNorm).toBeNull();
      expect(r.loss).toHaveLength(4);
      expect(r.saturation).toHaveLength(1);
    }
    const short = stateRun(model(mc({ cell: "lstm", hidden: H, vocabSize: V })), text.subarray(0, 36), { T, B, chunks: 20 });
    expect(short.chunks).toBe(3);
    expect(short.steps).toBe(30);
  });
});

describe("helpers", () => {
  it("singularValues recovers U·diag(s)·Vᵀ and handles stacked blocks", () => {
    const n = 12, rng = makeRng(3);
    const orth = () => {
      const A = Float64Array.from({ length: n * n }, () => rng.normal()), Q = new Float64Array(n * n);
      householderQ(Q, A, n);
      return Q;
    };
    const U = orth(), Vm = orth();
    const s = Array.from({ length: n }, (_, i) => 3 / (i + 1));
    const W = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let v = 0;
      for (let k = 0; k < n; k++) v += U[i * n + k] * s[k] * Vm[j * n + k];
      W[i * n + j] = v;
    }
    const sv = singularValues(W, n, n);
    for (let i = 0; i < n; i++) expect(sv[i]).toBeCloseTo(s[i], 9);
    const stacked = new Float64Array(2 * n * n);
    stacked.set(U);
    stacked.set(Vm, n * n);
    for (const v of singularValues(stacked, 2 * n, n)) expect(v).toBeCloseTo(Math.SQRT2, 9);
    expect(Array.from(singularValues([-3], 1, 1))).toEqual([3]);
    const two = singularValues([0, 2, 1, 0], 2, 2);
    expect(two[0]).toBeCloseTo(2, 12);
    expect(two[1]).toBeCloseTo(1, 12);
    const zero = singularValues(new Float64Array(9), 3, 3);
    expect(Array.from(zero)).toEqual([0, 0, 0]);
  });

  it("fitExponential finds the factor of an exact exponential", () => {
    const y = Array.from({ length: 20 }, (_, k) => 7 * Math.pow(0.6, k));
    y[0] = 100; // ignored with from = 1
    const f = fitExponential(y, 1);
    expect(f.factor).toBeCloseTo(0.6, 12);
    expect(f.r2).toBeCloseTo(1, 12);
    expect(fitExponential([1, 0, NaN]).factor).toBeNaN();
  });

  it("spreads streams over the text and refuses a text shorter than T+1", () => {
    const s = streamStarts(1000, 4, 50);
    expect(s[0]).toBe(0);
    expect(s[3]).toBe(1000 - 51);
    for (let i = 1; i < 4; i++) expect(s[i]).toBeGreaterThan(s[i - 1]);
    expect(() => streamStarts(50, 2, 50)).toThrow(/at least T\+1 = 51/);
  });
});

describe("rnn diagnose (CLI)", () => {
  it("prints a table, writes the SVG, and --json gives every number", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-diagnose-"));
    try {
      const corpus = path.join(dir, "text.txt");
      fs.writeFileSync(corpus, "a stitch in time saves nine; ".repeat(60));
      const q = ["--quiet", "--kernels", "ref", "--steps", "1", "--hidden", "8", "--batch", "2", "--seq", "10"];
      expect(await main(["node", "rnn", "train", corpus, "--out", path.join(dir, "rnn"), "--cell", "rnn", "--layers", "1", ...q])).toBe(0);
      expect(await main(["node", "rnn", "train", corpus, "--out", path.join(dir, "lstm"), "--cell", "lstm", "--layers", "2", ...q])).toBe(0);
      let out = "";
      const spy = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => { out += String(s); return true; });
      let code: number, codeJson: number, jsonOut: string;
      const svg = path.join(dir, "plot.svg");
      try {
        code = await main(["node", "rnn", "diagnose", "--model", path.join(dir, "rnn"), "--model", path.join(dir, "lstm"), "--svg", svg, "--every", "1"]);
        const table = out;
        out = "";
        codeJson = await main(["node", "rnn", "diagnose", "--model", path.join(dir, "lstm"), corpus, "--seq", "12", "--batch", "3", "--json"]);
        jsonOut = out;
        out = table;
      } finally {
        spy.mockRestore();
      }
      expect(code).toBe(0);
      expect(out).toContain("per step back");
      expect(out).toContain("f block");
      expect(out.match(/^\s+\d+\s+\d\.\d\de[-+]\d+/gm)!.length).toBe(2 * 11); // k = 0…10 for both models
      const plot = fs.readFileSync(svg, "utf8");
      expect((plot.match(/<polyline /g) ?? []).length).toBe(3 + 2); // gradients: rnn + two lstm layers; ‖c_t‖: two lstm layers
      expect(plot).toContain("cell state ‖c_t‖");
      expect(out).toMatch(/‖c‖ layer 0 +‖c‖ layer 1 +chunk loss/);
      expect(out).toContain("the state carried over");
      expect(codeJson).toBe(0);
      const j = JSON.parse(jsonOut);
      expect(j.models).toHaveLength(1);
      expect(j.models[0].T).toBe(12);
      expect(j.models[0].B).toBe(3);
      expect(j.models[0].layers).toHaveLength(2);
      expect(j.models[0].layers[1].gradNorm).toHaveLength(13);
      const st = j.models[0].states; // 20 chunks (the default) of 12 steps fit in the 1740 characters
      expect([st.chunks, st.steps]).toEqual([20, 240]);
      expect(st.cNorm).toHaveLength(2);
      expect(st.cNorm[1]).toHaveLength(241);
      expect(st.loss).toHaveLength(20);
      expect(j.svg).toBe(path.join(dir, "lstm", "diagnose.svg"));
      expect(fs.existsSync(j.svg)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
