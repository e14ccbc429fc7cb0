// The kernels added for speed, WebAssembly against the float32 reference, in both builds: GEMMs against a
// pre-packed right-hand side, the NT GEMM with its bias folded in (and its single-row path), the transpose,
// the whole-slab vector operations (gradient reduction, clipping, Adam), the backward cells that add the
// carried gradient themselves, and the helper thread that shares large single-row GEMMs. Where a fused
// kernel replaces a sequence of kernels, it must give the same bits as that sequence.
import { describe, expect, it } from "vitest";
import { refF32 } from "../src/kernels/ref.ts";
import type { Kernels } from "../src/kernels/types.ts";
import { CLAIM_SHIFT, CTL, CTL_WORDS, GEN_MASK } from "../src/kernels/helper-protocol.mjs";
import { createWasmKernels, relaxedSimdSupported, type WasmKernels } from "../src/kernels/wasm.ts";
import { makeRng } from "../src/rng.ts";

const rng = makeRng(77);
const TOL = 1e-5;

/** max |got − want| / max(scale, max |want|) */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>, scale = 0): number {
  expect(got.length).toBe(want.length);
  let err = 0, s = scale;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    err = Math.max(err, Math.abs(got[i] - want[i]));
    s = Math.max(s, Math.abs(want[i]));
  }
  return err / Math.max(s, 1e-30);
}

function rand(ops: Kernels, n: number, s = 1): Float32Array {
  const a = ops.alloc(n) as Float32Array;
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-s, s);
  return a;
}

const copy = (a: Float32Array) => Float32Array.from(a);
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

const builds = relaxedSimdSupported() ? [false, true] : [false];

for (const relaxed of builds) {
  const ops = createWasmKernels({ relaxed });
  ops.setHelper(false); // the helper has its own test below

  describe(`${ops.name}: packed right-hand side`, () => {
    // K crosses the k block (256), N the 16-column panels, M the 4-row panels and the 128-row A block
    const shapes = [[1, 1, 1], [3, 17, 5], [50, 128, 512], [25, 512, 128], [7, 33, 300], [130, 20, 513], [2, 100, 2]];
    for (const [M, N, Kd] of shapes) {
      it(`gemmNNPacked ${M}×${N}×${Kd}, B packed plain and transposed`, () => {
        const A = rand(ops, M * Kd), B = rand(ops, Kd * N), BT = rand(ops, N * Kd);
        expect(ops.packedSize(Kd, N)).toBeGreaterThanOrEqual(Kd * N);
        expect(refF32.packedSize(Kd, N)).toBe(Kd * N);
        for (const trans of [false, true]) {
          const src = trans ? BT : B;
          const Bp = ops.alloc(ops.packedSize(Kd, N));
          ops.packB(Bp, src, Kd, N, trans);
          const Rp = new Float32Array(refF32.packedSize(Kd, N));
          refF32.packB(Rp, copy(src), Kd, N, trans);
          for (const acc of [false, true]) {
            const C0 = rand(ops, M * N);
            const C = ops.alloc(M * N) as Float32Array;
            C.set(C0);
            const R = copy(C0);
            ops.gemmNNPacked(C, A, Bp, M, N, Kd, acc);
            refF32.gemmNNPacked(R, copy(A), Rp, M, N, Kd, acc);
            expect(relErr(C, R, Kd), `trans=${trans} acc=${acc}`).toBeLessThan(TOL);
            // the packed path computes what the unpacked NN / NT GEMMs compute (same kernels, same order)
            const U = ops.alloc(M * N) as Float32Array;
            U.set(C0);
            if (trans) ops.gemmNT(U, A, BT, M, N, Kd, acc);
            else ops.gemmNN(U, A, B, M, N, Kd, acc);
            expect(relErr(C, U, Kd)).toBeLessThan(TOL);
          }
        }
      });
    }
  });

  describe(`${ops.name}: NT GEMM with bias, and its single-row path`, () => {
    // M = 1 (rows of B six at a time, N mod 6 left over), the dot-product path, the packing path (K < 96, M ≥ 64)
    const shapes = [[1, 1, 3], [1, 5, 7], [1, 6, 128], [1, 13, 9], [1, 2048, 37], [2, 13, 100], [5, 65, 128], [70, 30, 20], [64, 65, 95]];
    for (const [M, N, Kd] of shapes) {
      it(`${M}×${N}×${Kd}`, () => {
        const A = rand(ops, M * Kd), B = rand(ops, N * Kd), bias = rand(ops, N);
        const C = rand(ops, M * N);
        ops.gemmNTBias(C, A, B, bias, M, N, Kd);
        const R = new Float32Array(M * N);
        refF32.gemmNTBias(R, copy(A), copy(B), copy(bias), M, N, Kd);
        expect(relErr(C, R, Kd)).toBeLessThan(TOL);
        // bit for bit the two-kernel sequence it replaces
        const S = ops.alloc(M * N) as Float32Array;
        ops.addBias(S, bias, M, N, false);
        ops.gemmNT(S, A, B, M, N, Kd, true);
        expect(bits(C)).toEqual(bits(S));
        // and plain NT (=, +=) on the same shape
        for (const acc of [false, true]) {
          const C0 = rand(ops, M * N);
          const P = ops.alloc(M * N) as Float32Array;
          P.set(C0);
          const Q = copy(C0);
          ops.gemmNT(P, A, B, M, N, Kd, acc);
          refF32.gemmNT(Q, copy(A), copy(B), M, N, Kd, acc);
          expect(relErr(P, Q, Kd), `acc=${acc}`).toBeLessThan(TOL);
        }
      });
    }
  });

  describe(`${ops.name}: transpose and vector operations`, () => {
    for (const [R, C] of [[1, 1], [3, 5], [4, 4], [65, 512], [129, 7]]) {
      it(`transpose ${R}×${C}`, () => {
        const src = rand(ops, R * C);
        for (const acc of [false, true]) {
          const dst = rand(ops, R * C), want = copy(dst);
          ops.transpose(dst, src, R, C, acc);
          refF32.transpose(want, copy(src), R, C, acc);
          expect(bits(dst)).toEqual(bits(want)); // one add per element at most: exact
        }
      });
    }

    for (const n of [1, 3, 4, 7, 1001]) {
      it(`addTo, scale, sumSquares over ${n}`, () => {
        const y = rand(ops, n), x = rand(ops, n), want = copy(y);
        ops.addTo(y, x, n);
        refF32.addTo(want, copy(x), n);
        expect(bits(y)).toEqual(bits(want));
        const f = Math.fround(0.37); // the kernel scales by s as a float32 (as torch's clip_grad_norm_ does)
        ops.scale(y, f, n);
        refF32.scale(want, f, n);
        expect(bits(y)).toEqual(bits(want));
        const s = ops.sumSquares(x, n), r = refF32.sumSquares(copy(x), n);
        expect(Math.abs(s - r) / r).toBeLessThan(1e-14); // float64 sums in another order
      });
    }

    it("sumSquares of NaN / Inf is not finite", () => {
      const x = rand(ops, 9);
      x[5] = NaN;
      expect(Number.isNaN(ops.sumSquares(x, 9))).toBe(true);
      x[5] = Infinity;
      expect(ops.sumSquares(x, 9)).toBe(Infinity);
    });

    for (const wd of [0, 0.01]) {
      it(`adam, 5 steps (weight decay ${wd}) against the reference`, () => {
        const n = 1003;
        const p = rand(ops, n), m = ops.alloc(n) as Float32Array, v = ops.alloc(n) as Float32Array;
        const rp = copy(p), rm = new Float32Array(n), rv = new Float32Array(n);
        const b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = 2e-3;
        for (let t = 1; t <= 5; t++) {
          const g = rand(ops, n, 0.1);
          g[t] = 0; // a zero gradient (m = v = 0 at first) must not divide by zero
          const stepSize = lr / (1 - b1 ** t), bc2Sqrt = Math.sqrt(1 - b2 ** t);
          ops.adam(p, m, v, g, n, stepSize, b1, b2, bc2Sqrt, eps, wd);
          refF32.adam(rp, rm, rv, copy(g), n, stepSize, b1, b2, bc2Sqrt, eps, wd);
        }
        expect(relErr(m, rm)).toBeLessThan(1e-6);
        expect(relErr(v, rv)).toBeLessThan(1e-6);
        // parameters moved by ≈ lr per step; compare the moves
        const dp = p.map((x, i) => x - rp[i]);
        expect(Math.max(...dp.map(Math.abs))).toBeLessThan(1e-6);
        expect(p.every(Number.isFinite)).toBe(true);
      });
    }
  });

  describe(`${ops.name}: forward cells adding the recurrent product`, () => {
    for (const [B, H] of [[1, 1], [3, 5], [4, 8], [2, 13]]) {
      it(`rnn / lstm ${B}×${H}: (pre, pre2) equals (pre + pre2) bit for bit, and the reference`, () => {
        const n = B * H;
        for (const relu of [false, true]) {
          const pre = rand(ops, n, 2), pre2 = rand(ops, n, 2), sum = ops.alloc(n) as Float32Array;
          for (let i = 0; i < n; i++) sum[i] = pre[i] + pre2[i];
          const h1 = ops.alloc(n) as Float32Array, h2 = ops.alloc(n) as Float32Array, hr = new Float32Array(n), pr = copy(pre);
          refF32.rnnCellForward(hr, pr, B, H, relu, copy(pre2));
          ops.rnnCellForward(h1, pre, B, H, relu, pre2);
          ops.rnnCellForward(h2, sum, B, H, relu);
          expect(bits(h1)).toEqual(bits(h2));
          expect(bits(pre)).toEqual(bits(sum)); // the summed pre-activation is kept
          expect(relErr(h1, hr)).toBeLessThan(TOL);
        }
        const g = rand(ops, 4 * n, 3), gh = rand(ops, 4 * n, 3), gs = ops.alloc(4 * n) as Float32Array;
        for (let i = 0; i < 4 * n; i++) gs[i] = g[i] + gh[i];
        const rg = copy(g), cPrev = rand(ops, n);
        const h1 = ops.alloc(n) as Float32Array, c1 = ops.alloc(n) as Float32Array, h2 = ops.alloc(n) as Float32Array, c2 = ops.alloc(n) as Float32Array;
        ops.lstmCellForward(h1, c1, g, cPrev, B, H, gh);
        ops.lstmCellForward(h2, c2, gs, cPrev, B, H);
        expect([...bits(h1), ...bits(c1), ...bits(g)]).toEqual([...bits(h2), ...bits(c2), ...bits(gs)]);
        const hr = new Float32Array(n), cr = new Float32Array(n);
        refF32.lstmCellForward(hr, cr, rg, copy(cPrev), B, H, copy(gh));
        expect(relErr(h1, hr)).toBeLessThan(TOL);
        expect(relErr(c1, cr)).toBeLessThan(TOL);
        expect(relErr(g, rg)).toBeLessThan(TOL);
      });
    }
  });

  describe(`${ops.name}: the LSTM without forget gate, fused adds`, () => {
    for (const [B, H] of [[1, 1], [3, 5], [4, 8], [2, 13]]) {
      it(`lstm-nofg ${B}×${H}: (gates, gh) equals (gates + gh) and (dh, dh2) equals (dh + dh2) bit for bit, and the reference`, () => {
        const n = B * H;
        const g = rand(ops, 3 * n, 3), gh = rand(ops, 3 * n, 3), gs = ops.alloc(3 * n) as Float32Array;
        for (let i = 0; i < 3 * n; i++) gs[i] = g[i] + gh[i];
        const rg = copy(g), cPrev = rand(ops, n, 4);
        const h1 = ops.alloc(n) as Float32Array, c1 = ops.alloc(n) as Float32Array, h2 = ops.alloc(n) as Float32Array, c2 = ops.alloc(n) as Float32Array;
        ops.lstmNoForgetCellForward(h1, c1, g, cPrev, B, H, gh);
        ops.lstmNoForgetCellForward(h2, c2, gs, cPrev, B, H);
        expect([...bits(h1), ...bits(c1), ...bits(g)]).toEqual([...bits(h2), ...bits(c2), ...bits(gs)]);
        const hr = new Float32Array(n), cr = new Float32Array(n);
        refF32.lstmNoForgetCellForward(hr, cr, rg, copy(cPrev), B, H, copy(gh));
        expect(relErr(h1, hr)).toBeLessThan(TOL);
        expect(relErr(c1, cr)).toBeLessThan(TOL);
        expect(relErr(g, rg)).toBeLessThan(TOL);
        // backward, from the activations just computed
        const dh = rand(ops, n), dh2 = rand(ops, n), sum = ops.alloc(n) as Float32Array, dc0 = rand(ops, n);
        for (let i = 0; i < n; i++) sum[i] = dh[i] + dh2[i];
        const run = (d: Float32Array, d2: Float32Array | null) => {
          const dG = ops.alloc(3 * n) as Float32Array, dc = ops.alloc(n) as Float32Array;
          dc.set(dc0);
          ops.lstmNoForgetCellBackward(dG, dc, d, g, c1, B, H, d2);
          return { dG, dc, all: [...bits(dG), ...bits(dc)] };
        };
        const got = run(dh, dh2);
        expect(got.all).toEqual(run(sum, null).all);
        const rG = new Float32Array(3 * n), rdc = copy(dc0);
        refF32.lstmNoForgetCellBackward(rG, rdc, copy(dh), rg, cr, B, H, copy(dh2));
        expect(relErr(got.dG, rG)).toBeLessThan(TOL);
        expect(relErr(got.dc, rdc)).toBeLessThan(TOL);
      });
    }
  });

  describe(`${ops.name}: backward cells adding the carried gradient`, () => {
    for (const [B, H] of [[1, 1], [3, 5], [4, 8], [2, 13]]) {
      it(`rnn / lstm / gru ${B}×${H}: (dh, dh2) equals (dh + dh2) bit for bit, and the reference`, () => {
        const n = B * H;
        const dh = rand(ops, n), dh2 = rand(ops, n), sum = ops.alloc(n) as Float32Array;
        for (let i = 0; i < n; i++) sum[i] = dh[i] + dh2[i];
        for (const relu of [false, true]) {
          const h = rand(ops, n, 0.9);
          const a = ops.alloc(n) as Float32Array, b = ops.alloc(n) as Float32Array, r = new Float32Array(n);
          ops.rnnCellBackward(a, dh, h, B, H, relu, dh2);
          ops.rnnCellBackward(b, sum, h, B, H, relu);
          refF32.rnnCellBackward(r, copy(dh), copy(h), B, H, relu, copy(dh2));
          expect(bits(a)).toEqual(bits(b));
          expect(relErr(a, r)).toBeLessThan(TOL);
        }
        // lstm: gates are activations in (0, 1) (g in (−1, 1))
        const gates = ops.alloc(4 * n) as Float32Array;
        for (let i = 0; i < 4 * n; i++) gates[i] = rng.uniform(0.05, 0.95);
        const c = rand(ops, n), cPrev = rand(ops, n), dc0 = rand(ops, n);
        const run = (d: Float32Array, d2: Float32Array | null) => {
          const dG = ops.alloc(4 * n) as Float32Array, dc = ops.alloc(n) as Float32Array;
          dc.set(dc0);
          ops.lstmCellBackward(dG, dc, d, gates, c, cPrev, B, H, d2);
          return [...bits(dG), ...bits(dc)];
        };
        expect(run(dh, dh2)).toEqual(run(sum, null));
        const rG = new Float32Array(4 * n), rdc = copy(dc0);
        refF32.lstmCellBackward(rG, rdc, copy(dh), copy(gates), copy(c), copy(cPrev), B, H, copy(dh2));
        const dG = ops.alloc(4 * n) as Float32Array, dc = ops.alloc(n) as Float32Array;
        dc.set(dc0);
        ops.lstmCellBackward(dG, dc, dh, gates, c, cPrev, B, H, dh2);
        expect(relErr(dG, rG)).toBeLessThan(TOL);
        expect(relErr(dc, rdc)).toBeLessThan(TOL);
        // gru
        const g3 = ops.alloc(3 * n) as Float32Array;
        for (let i = 0; i < 3 * n; i++) g3[i] = rng.uniform(0.05, 0.95);
        const gh = rand(ops, 3 * n), hPrev = rand(ops, n), prev0 = rand(ops, n);
        const runG = (d: Float32Array, d2: Float32Array | null) => {
          const dgx = ops.alloc(3 * n) as Float32Array, dgh = ops.alloc(3 * n) as Float32Array, dhPrev = ops.alloc(n) as Float32Array;
          dhPrev.set(prev0);
          ops.gruCellBackward(dgx, dgh, dhPrev, d, g3, gh, hPrev, B, H, d2);
          return { dgx, dgh, dhPrev, all: [...bits(dgx), ...bits(dgh), ...bits(dhPrev)] };
        };
        const got = runG(dh, dh2);
        expect(got.all).toEqual(runG(sum, null).all);
        const rx = new Float32Array(3 * n), rh = new Float32Array(3 * n), rp = copy(prev0);
        refF32.gruCellBackward(rx, rh, rp, copy(dh), copy(g3), copy(gh), copy(hPrev), B, H, copy(dh2));
        expect(relErr(got.dgx, rx)).toBeLessThan(TOL);
        expect(relErr(got.dgh, rh)).toBeLessThan(TOL);
        expect(relErr(got.dhPrev, rp)).toBeLessThan(TOL);
      });
    }
  });
}

describe("helper thread for large single-row GEMMs", () => {
  it("has one control word per name, all inside the control block, and a claim word that holds a generation", () => {
    const words = Object.values(CTL);
    expect(new Set(words).size).toBe(words.length);
    for (const w of words) expect(w >= 0 && w < CTL_WORDS).toBe(true);
    expect(Math.log2(GEN_MASK + 1) + CLAIM_SHIFT).toBeLessThanOrEqual(32);
  });

  it("gives the same bits as one thread, for =, += and bias, and can be switched off", async () => {
    const ops: WasmKernels = createWasmKernels();
    const N = 1030, Kd = 300; // N·K above the helper's threshold, N not a multiple of the chunk rows
    const A = rand(ops, Kd), B = rand(ops, N * Kd), bias = rand(ops, N), C0 = rand(ops, N);
    const runAll = () => {
      const out: number[][] = [];
      const C = ops.alloc(N) as Float32Array;
      ops.gemmNT(C, A, B, 1, N, Kd, false);
      out.push(bits(C));
      C.set(C0);
      ops.gemmNT(C, A, B, 1, N, Kd, true);
      out.push(bits(C));
      ops.gemmNTBias(C, A, B, bias, 1, N, Kd);
      out.push(bits(C));
      return out;
    };
    ops.setHelper(true);
    runAll(); // starts the helper (it computes nothing until it runs)
    await new Promise((r) => setTimeout(r, 300));
    const shared = [];
    for (let i = 0; i < 20; i++) shared.push(runAll());
    ops.setHelper(false);
    const alone = runAll();
    for (const s of shared) expect(s).toEqual(alone);
    const R = new Float32Array(N);
    refF32.gemmNT(R, copy(A), copy(B), 1, N, Kd, false);
    expect(relErr(new Float32Array(new Uint32Array(alone[0]).buffer), R, Kd)).toBeLessThan(TOL);
  });
});
