// --ortho-opt cayley's mathematics and its step (src/model/orthogonal.ts, src/train/cayley.ts):
//   * the retraction alone, in float64: exactly orthogonal (1e-12) for updates small and large, and to first
//     order the projected step W − P_T(U), P_T(U) = ½(U − W Uᵀ W) — the error shrinks as ‖U‖²;
//   * the LU solve, the polar factor (the nearest orthogonal matrix) and the Newton–Schulz correction;
//   * the fast path (cayleySeries, float32 GEMMs of both kernel backends) equals the exact float64 LU retraction
//     to 1e-7 at H = 64..256 for Adam-sized and for large updates, gives a too-large one back to the LU, keeps a
//     block orthogonal over 3000 steps, and retracts alike on one thread and spread over two;
//   * 200 float32 training steps of every cell (1–2 layers, G = 1, 4, 3, 3 blocks per layer) with every
//     optimizer, weight decay, dropout, residual and the spread 2-thread Adam: every block stays orthogonal to
//     1e-5 while it moves far from where it started, and without --ortho-opt the same run does not stay orthogonal;
//   * a new run starts orthogonal: the blocks --init pytorch drew are replaced by their polar factor.
import { describe, expect, it } from "vitest";
import { type ModelConfig, resolveTrainConfig, type TrainConfig } from "../src/config.ts";
import { makeBatcher } from "../src/corpus/batches.ts";
import { refF32 } from "../src/kernels/ref.ts";
import type { Kernels } from "../src/kernels/types.ts";
import { createWasmKernels } from "../src/kernels/wasm.ts";
import { randomOrthogonal } from "../src/model/init.ts";
import { initParams } from "../src/model/init.ts";
import { createModel } from "../src/model/model.ts";
import {
  cayleyRetract, cayleySeries, luFactor, luSolve, newtonSchulzStep, orthoDeviation, orthoScratch, polarFactor, recurrentBlocks, seriesScratch,
} from "../src/model/orthogonal.ts";
import { makeRng, type Rng } from "../src/rng.ts";
import { cayleyStep, ORTHOGONAL_TOL, REORTHOGONALISE_EVERY, retractScratch, retractShare, startOrthogonal } from "../src/train/cayley.ts";
import { createLocalEngine } from "../src/train/engine.ts";
import { createOptimizerState } from "../src/train/optim.ts";
import { createParallelEngine } from "../src/train/parallel.ts";
import { makeStepper } from "../src/train/step.ts";

const orthogonal = (n: number, rng: Rng) => {
  const W = new Float64Array(n * n);
  randomOrthogonal(W, n, rng);
  return W;
};
const gaussian = (n: number, rng: Rng, s = 1) => Float64Array.from({ length: n * n }, () => s * rng.normal());
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};
/** C = A B, all [n × n] */
const mul = (A: Float64Array, B: Float64Array, n: number) => {
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) C[i * n + j] += A[i * n + k] * B[k * n + j];
  return C;
};
const transpose = (A: Float64Array, n: number) => Float64Array.from({ length: n * n }, (_, i) => A[(i % n) * n + Math.floor(i / n)]);
/** P_T(U) = ½ (U − W Uᵀ W): U projected on the tangent space of O(n) at W */
const projected = (W: Float64Array, U: Float64Array, n: number) => {
  const WUtW = mul(mul(W, transpose(U, n), n), W, n);
  return U.map((u, i) => 0.5 * (u - WUtW[i]));
};

describe("the Cayley retraction, float64", () => {
  for (const n of [1, 2, 5, 16, 33]) {
    it(`n = ${n}: orthogonal to 1e-12 for small and large updates, and W − P_T(U) to first order`, () => {
      const rng = makeRng(n);
      const W0 = orthogonal(n, rng), s = orthoScratch(n);
      for (const size of [1e-6, 1e-2, 1, 30]) {
        const W = W0.slice();
        cayleyRetract(W, gaussian(n, rng, size), n, s);
        expect(orthoDeviation(W, n), `‖U‖ ~ ${size}`).toBeLessThan(1e-12);
      }
      // first order: ‖retract(W, εU) − (W − P_T(εU))‖ = O(ε²); at ε/10 the error is ~100× smaller
      const U1 = gaussian(n, rng, 1 / Math.sqrt(n));
      const gap = (eps: number) => {
        const U = U1.map((u) => eps * u), W = W0.slice();
        cayleyRetract(W, U, n, s);
        const P = projected(W0, U, n);
        return maxAbsDiff(W, W0.map((w, i) => w - P[i]));
      };
      const [g1, g2] = [gap(1e-3), gap(1e-4)];
      if (n === 1) {
        // O(1) has no tangent directions: P_T(U) = 0 and the retraction leaves ±1 alone
        expect(g1).toBe(0);
        return;
      }
      expect(g1).toBeLessThan(1e-5);
      expect(g1).toBeGreaterThan(0);
      expect(g2 / g1).toBeGreaterThan(0.005);
      expect(g2 / g1).toBeLessThan(0.02); // second order: ×1/100 for ε/10
      // and the step is not the unconstrained one: P_T drops U's normal part
      const U = U1.map((u) => 1e-3 * u), W = W0.slice();
      cayleyRetract(W, U, n, s);
      expect(maxAbsDiff(W, W0.map((w, i) => w - U[i]))).toBeGreaterThan(100 * g1);
    });
  }

  it("a tangent update ΩW (Ω skew) is taken at its own size, and a normal one (W·S, S symmetric) does nothing", () => {
    const n = 7, rng = makeRng(3), s = orthoScratch(n);
    const W0 = orthogonal(n, rng), K = gaussian(n, rng, 1e-4);
    const skew = K.map((k, i) => k - K[(i % n) * n + Math.floor(i / n)]); // Ω = K − Kᵀ
    const sym = K.map((k, i) => k + K[(i % n) * n + Math.floor(i / n)]);
    const tangent = mul(skew, W0, n), normal = mul(W0, sym, n);
    const W = W0.slice();
    cayleyRetract(W, tangent, n, s);
    const size = Math.max(...tangent.map(Math.abs)); // ~4e-4
    expect(maxAbsDiff(W, W0.map((w, i) => w - tangent[i]))).toBeLessThan(1e-3 * size); // O(‖Ω‖²): the step is ΩW to 0.1%
    const Wn = W0.slice();
    cayleyRetract(Wn, normal, n, s);
    expect(maxAbsDiff(Wn, W0)).toBeLessThan(1e-15);
  });
});

describe("float64 linear algebra", () => {
  it("luFactor + luSolve solve A X = B (pivoting needed: a zero on the diagonal)", () => {
    const n = 9, m = 4, rng = makeRng(1);
    const A = gaussian(n, rng);
    A[0] = 0;
    const B = Float64Array.from({ length: n * m }, () => rng.normal());
    const LU = A.slice(), piv = new Int32Array(n), X = B.slice();
    expect(luFactor(LU, piv, n)).toBe(true);
    luSolve(LU, piv, X, n, m);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += A[i * n + k] * X[k * m + j];
      expect(Math.abs(s - B[i * m + j])).toBeLessThan(1e-12);
    }
    const singular = new Float64Array(n * n); // rank 0
    expect(luFactor(singular, piv, n)).toBe(false);
  });

  it("polarFactor: Q of W = Q P (P symmetric positive definite), the orthogonal matrix nearest to W", () => {
    for (const n of [1, 3, 16, 40]) {
      const rng = makeRng(10 + n);
      const Q = orthogonal(n, rng), G = gaussian(n, rng);
      const P = mul(transpose(G, n), G, n); // GᵀG + I: symmetric positive definite, condition number ~ n²
      for (let i = 0; i < n; i++) P[i * n + i] += 0.01;
      const W = mul(Q, P, n), s = orthoScratch(n);
      expect(polarFactor(W, n, s)).toBe(true);
      expect(orthoDeviation(W, n)).toBeLessThan(1e-12);
      expect(maxAbsDiff(W, Q)).toBeLessThan(1e-9);
    }
    const zero = new Float64Array(16);
    expect(polarFactor(zero, 4, orthoScratch(4))).toBe(false);
  });

  it("newtonSchulzStep squares a small deviation away", () => {
    const n = 24, rng = makeRng(4), s = orthoScratch(n);
    const W = Float64Array.from(Float32Array.from(orthogonal(n, rng))); // float32-rounded
    const before = orthoDeviation(W, n);
    expect(before).toBeGreaterThan(1e-9);
    newtonSchulzStep(W, n, s);
    expect(orthoDeviation(W, n)).toBeLessThan(1e-14);
    const far = orthogonal(n, rng).map((w) => 1.001 * w); // ‖WᵀW − I‖ = 2e-3 → ~1e-5
    newtonSchulzStep(far, n, s);
    expect(orthoDeviation(far, n)).toBeLessThan(1e-5);
  });
});

describe("the Cayley retraction as float32 GEMMs (cayleySeries) against the exact float64 LU", () => {
  const wasm = createWasmKernels();
  /** an Adam-like −U [n × n]: every element ±lr·(0.3 + u), u uniform in [0, 1) (Adam's first step is ±lr exactly) */
  const adamLike = (ops: Kernels, n: number, lr: number, rng: Rng) => {
    const negU = ops.alloc(n * n);
    for (let i = 0; i < n * n; i++) negU[i] = (rng.next() < 0.5 ? -lr : lr) * (0.3 + rng.next());
    return negU;
  };
  /** the exact retraction of a float32 W by the float32 −U, in float64 */
  const exact = (W: ArrayLike<number>, negU: ArrayLike<number>, n: number) => {
    const X = Float64Array.from(W);
    cayleyRetract(X, Float64Array.from(negU, (u) => -u), n, orthoScratch(n));
    return X;
  };
  const cases: [string, Kernels, number[]][] = [["WebAssembly", wasm, [64, 128, 256]], ["reference float32", refF32, [64, 128]]];
  for (const [name, ops, sizes] of cases) {
    for (const n of sizes) {
      it(`${name}, H = ${n}: to 1e-7 for lr 1e-4 … 1e-2 and a large step (‖A/2‖ ≈ 0.3); the result orthogonal to float32 rounding`, () => {
        const rng = makeRng(n), s = seriesScratch(n, (k) => ops.alloc(k));
        const W = ops.alloc(n * n);
        W.set(orthogonal(n, rng)); // rounded to float32, as a block is
        // lr for ‖A/2‖ ≈ 0.3: ‖U‖₂ ≈ 2√n·lr·0.9 for these entries
        for (const lr of [1e-4, 2e-3, 1e-2, 0.3 / Math.sqrt(n)]) {
          const negU = adamLike(ops, n, lr, rng), want = exact(W, negU, n);
          const out = ops.alloc(n * n);
          expect(cayleySeries(ops, out, W, negU, n, s), `lr ${lr}`).toBe(true);
          expect(maxAbsDiff(out, want), `lr ${lr}`).toBeLessThan(1e-7);
          expect(maxAbsDiff(out, W), `lr ${lr}: the step itself`).toBeGreaterThan(100 * lr * 0.3 / n);
          expect(orthoDeviation(out, n), `lr ${lr}`).toBeLessThan(1e-6);
        }
      });
    }
  }

  it("a step too large for the series is given back (nothing written); retractShare then takes the LU", () => {
    const n = 64, rng = makeRng(5), s = retractScratch(wasm, n);
    const W = wasm.alloc(n * n);
    W.set(orthogonal(n, rng));
    const negU = adamLike(wasm, n, 0.2, rng), negU0 = Float32Array.from(negU);
    const out = wasm.alloc(n * n);
    expect(cayleySeries(wasm, out, W, negU, n, s.f32)).toBe(false);
    expect(out.every((v) => v === 0)).toBe(true);
    expect(negU).toEqual(negU0);
    const want = Float32Array.from(exact(W, negU, n));
    retractShare(wasm, [negU], [W], n, 1, 0, 1, s); // the block holds −U, retracted in place
    expect(negU).toEqual(want);
  });

  it("3000 Adam-sized steps at H = 128, Newton–Schulz every 100: ‖WᵀW − I‖_max stays below 2e-6", () => {
    const n = 128, rng = makeRng(8), s = retractScratch(wasm, n);
    const W = wasm.alloc(n * n), block = wasm.alloc(n * n);
    W.set(orthogonal(n, rng));
    const W0 = Float32Array.from(W);
    let worst = 0;
    for (let step = 1; step <= 3000; step++) {
      for (let i = 0; i < n * n; i++) block[i] = (rng.next() - 0.5) * 4e-3;
      retractShare(wasm, [block], [W], n, step, 0, 1, s);
      W.set(block);
      if (step % 50 === 49) worst = Math.max(worst, orthoDeviation(W, n));
    }
    expect(worst).toBeLessThan(2e-6);
    expect(maxAbsDiff(W, W0)).toBeGreaterThan(0.05); // it went somewhere
  });

  it("spread over two threads, the blocks come out byte for byte as on one (a plain step and a Newton–Schulz one)", async () => {
    const cfg = configOf({ cell: "lstm", hidden: 64 }, { lr: 2e-3 }, 2);
    const one = createModel(cfg.model, wasm);
    initParams(one, cfg, makeRng(2));
    startOrthogonal(one);
    const two = createModel(cfg.model, wasm);
    two.params.data.set(one.params.data);
    const engine = await createParallelEngine(two, cfg, makeBatcher(ids, B, T), ids, 2);
    const [c1, c2] = [cayleyStep(one), cayleyStep(two, engine)];
    expect(engine.cayleyRetract).toBeDefined();
    const rng = makeRng(4);
    for (const step of [1, REORTHOGONALISE_EVERY]) {
      const updates = recurrentBlocks(one).map(() => Float32Array.from({ length: 64 * 64 }, () => (rng.next() - 0.5) * 4e-3));
      for (const [m, c] of [[one, c1], [two, c2]] as const) {
        c.before();
        recurrentBlocks(m).forEach((b, i) => b.set(updates[i]));
        c.after(step);
      }
      expect(two.params.data).toEqual(one.params.data);
    }
    await engine.dispose();
  });
});

// ---- training -------------------------------------------------------------------------------------------------

const V = 13, B = 4, T = 10, CHUNKS = 5;
const ids = (() => {
  const rng = makeRng(77);
  return Uint16Array.from({ length: B * T * CHUNKS + 1 }, () => rng.int(V));
})();

function configOf(model: Partial<ModelConfig>, o: Partial<TrainConfig>, threads = 1): TrainConfig {
  return resolveTrainConfig(
    { model: { layers: 2, hidden: 12, vocabSize: V, ...model }, batch: B, seq: T, steps: 200, orthoOpt: "cayley", threads, corpus: [], ...o },
    { threads, out: "" },
  );
}

/** `steps` training steps of cfg; the largest ‖WᵀW − I‖_max over the blocks, and how far they moved. */
async function trainBlocks(cfg: TrainConfig, ops: Kernels, steps: number) {
  const model = createModel(cfg.model, ops);
  initParams(model, cfg, makeRng(cfg.seed));
  if (cfg.orthoOpt) startOrthogonal(model);
  const H = cfg.model.hidden;
  const start = recurrentBlocks(model).map((b) => Float64Array.from(b));
  const engine = cfg.threads > 1
    ? await createParallelEngine(model, cfg, makeBatcher(ids, B, T), ids, cfg.threads)
    : createLocalEngine(model, cfg, makeBatcher(ids, B, T));
  const opt = createOptimizerState(cfg, model.spec.size, (n) => ops.alloc(n));
  const step = makeStepper(model, cfg, engine, opt);
  const rng = makeRng(1);
  let deviation = 0, loss0 = NaN, loss = NaN;
  for (let s = 0; s < steps; s++) {
    const r = step(s % CHUNKS, rng, cfg.lr);
    expect(r.finite).toBe(true);
    if (s === 0) loss0 = r.loss;
    loss = r.loss;
    // between the corrections, at the step before one: the deviation at its largest
    if ((s + 2) % REORTHOGONALISE_EVERY === 0 || s === steps - 1) {
      deviation = Math.max(deviation, ...recurrentBlocks(model).map((b) => orthoDeviation(b, H)));
    }
  }
  await engine.dispose();
  const moved = Math.min(...recurrentBlocks(model).map((b, i) => maxAbsDiff(b, start[i])));
  return { deviation, moved, loss0, loss, blocks: recurrentBlocks(model).length };
}

describe("200 float32 steps with --ortho-opt cayley: every block orthogonal to 1e-5", () => {
  const cases: [string, Partial<ModelConfig>, Partial<TrainConfig>, number][] = [
    ["rnn tanh, Adam with weight decay", { cell: "rnn" }, { lr: 1e-2, weightDecay: 0.1 }, 2],
    ["rnn relu 1 layer, SGD with momentum", { cell: "rnn", activation: "relu", layers: 1 }, { optimizer: "sgd", lr: 0.5, momentum: 0.9 }, 1],
    ["lstm, Adam, dropout, residual, --init pytorch", { cell: "lstm", residual: true }, { lr: 1e-2, dropout: 0.2, init: "pytorch" }, 8],
    ["lstm without forget gate, RMSprop", { cell: "lstm", forgetGate: false }, { optimizer: "rmsprop", lr: 1e-2 }, 6],
    ["gru, Adagrad with weight decay, --init xavier", { cell: "gru" }, { optimizer: "adagrad", lr: 0.1, weightDecay: 0.05, init: "xavier" }, 6],
    ["gru, plain SGD, value clipping", { cell: "gru", embed: 5 }, { optimizer: "sgd", momentum: 0, lr: 1, clipValue: 0.01 }, 6],
  ];
  for (const [what, model, o, blocks] of cases) {
    it(what, async () => {
      const r = await trainBlocks(configOf(model, o), refF32, 200);
      expect(r.blocks).toBe(blocks);
      expect(r.deviation).toBeLessThan(1e-5);
      expect(r.moved).toBeGreaterThan(0.05); // the blocks trained, far beyond rounding
      expect(r.loss).toBeLessThan(r.loss0);
    });
  }

  it("2 threads, spread Adam, WebAssembly kernels", async () => {
    const r = await trainBlocks(configOf({ cell: "lstm" }, { lr: 1e-2 }, 2), createWasmKernels(), 200);
    expect(r.deviation).toBeLessThan(1e-5);
    expect(r.moved).toBeGreaterThan(0.05);
  });

  it("the same run without --ortho-opt does not stay orthogonal (the test can tell)", async () => {
    const cfg = configOf({ cell: "rnn" }, { lr: 1e-2 });
    delete cfg.orthoOpt;
    const r = await trainBlocks(cfg, refF32, 200);
    expect(r.deviation).toBeGreaterThan(1e-2);
  });
});

describe("a new run starts orthogonal", () => {
  it("--init pytorch's blocks are replaced by their polar factor; orthogonal ones are left exactly as they are", () => {
    for (const init of ["pytorch", "orthogonal"] as const) {
      const cfg = configOf({ cell: "lstm" }, { init });
      const model = createModel(cfg.model, refF32);
      initParams(model, cfg, makeRng(3));
      const before = Float32Array.from(model.params.data);
      const r = startOrthogonal(model);
      expect(r.blocks).toBe(8);
      const after = recurrentBlocks(model).map((b) => orthoDeviation(b, 12));
      expect(Math.max(...after)).toBeLessThan(ORTHOGONAL_TOL);
      if (init === "orthogonal") {
        expect(r.projected).toBe(0);
        expect(model.params.data).toEqual(before);
      } else {
        expect(r.projected).toBe(8);
        expect(r.worst).toBeGreaterThan(0.1);
        // nothing but the blocks changed
        const changed = Array.from(model.params.data, (v, i): number => (v !== before[i] ? 1 : 0));
        const whh = model.spec.tensors.filter((t) => t.name.startsWith("rnn.weight_hh"));
        let inBlocks = 0;
        for (const t of whh) for (let i = t.offset; i < t.offset + t.size; i++) inBlocks += changed[i];
        expect(changed.reduce((a, b) => a + b, 0)).toBe(inBlocks);
        expect(inBlocks).toBeGreaterThan(0);
      }
    }
  });
});
