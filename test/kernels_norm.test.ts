// --norm's kernels, WebAssembly against the float32 reference, in both builds: layer norm forward and backward
// (rows of every width around the four-lane blocks, with and without β, dγ, dβ, in place as the cells call
// them), batch norm (columns over a step's rows: forward with and without the running estimates' update,
// backward, inference with the estimates), and the LSTM step split at c_t's normalisation (with and without forget gate, with and without the
// recurrent product and the carried gradient, dGates in place of gates).
import { describe, expect, it } from "vitest";
import { refF32 } from "../src/kernels/ref.ts";
import type { Arr, Kernels } from "../src/kernels/types.ts";
import { createWasmKernels, relaxedSimdSupported } from "../src/kernels/wasm.ts";
import { makeRng } from "../src/rng.ts";

const rng = makeRng(5);
const TOL = 2e-6;

/** max |got − want| / max(scale, max |want|) */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>, scale = 0): number {
  expect(got.length).toBe(want.length);
  let err = 0, s = scale;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    err = Math.max(err, Math.abs(got[i] - want[i]));
    s = Math.max(s, Math.abs(want[i]));
  }
  return s === 0 ? err : err / s;
}

const builds = relaxedSimdSupported() ? [false, true] : [false];

for (const relaxed of builds) {
  const ops: Kernels = createWasmKernels({ relaxed });
  /** the same random values in this backend's memory and in a plain Float32Array */
  const pair = (n: number, lo = -2, hi = 2): [Arr, Float32Array] => {
    const a = ops.alloc(n);
    for (let i = 0; i < n; i++) a[i] = rng.uniform(lo, hi);
    return [a, Float32Array.from(a)];
  };
  const zeros = (n: number): [Arr, Float32Array] => [ops.alloc(n), new Float32Array(n)];

  describe(`${ops.name}: layer norm`, () => {
    for (const [M, N] of [[1, 1], [1, 4], [3, 5], [2, 8], [4, 13], [7, 128], [50, 512], [3, 3 * 33]]) {
      for (const beta of [true, false]) {
        it(`${M} rows of ${N}${beta ? ", with β" : ""}: forward, and backward with dγ, dβ and dx in place`, () => {
          const [x, xr] = pair(M * N), [g, gr] = pair(N, 0.5, 1.5), [b, br] = pair(N);
          const [y, yr] = zeros(M * N), [xh, xhr] = zeros(M * N), [rs, rsr] = zeros(M);
          ops.layerNormForward(y, xh, rs, x, g, beta ? b : null, M, N);
          refF32.layerNormForward(yr, xhr, rsr, xr, gr, beta ? br : null, M, N);
          expect(relErr(y, yr)).toBeLessThan(TOL);
          expect(relErr(xh, xhr)).toBeLessThan(TOL);
          expect(relErr(rs, rsr)).toBeLessThan(TOL);
          // in place (y = x), as the cells call it
          const xi = ops.alloc(M * N);
          xi.set(x);
          const [xh2] = zeros(M * N), [rs2] = zeros(M);
          ops.layerNormForward(xi, xh2, rs2, xi, g, beta ? b : null, M, N);
          expect(Array.from(xi)).toEqual(Array.from(y));
          // backward: separate dx, then in place of dy and of xhat; dγ and dβ accumulate into what they hold
          const [dy, dyr] = pair(M * N);
          const [dg, dgr] = pair(N), [db, dbr] = pair(N), [dx, dxr] = zeros(M * N);
          ops.layerNormBackward(dx, dg, db, dy, xh, rs, g, M, N);
          refF32.layerNormBackward(dxr, dgr, dbr, dyr, xhr, rsr, gr, M, N);
          expect(relErr(dx, dxr)).toBeLessThan(TOL * 10);
          expect(relErr(dg, dgr)).toBeLessThan(TOL * 10);
          expect(relErr(db, dbr)).toBeLessThan(TOL * 10);
          const dyIn = ops.alloc(M * N), xhIn = ops.alloc(M * N);
          dyIn.set(dy);
          xhIn.set(xh);
          ops.layerNormBackward(dyIn, null, null, dyIn, xh, rs, g, M, N);
          expect(Array.from(dyIn)).toEqual(Array.from(dx));
          ops.layerNormBackward(xhIn, null, null, dy, xhIn, rs, g, M, N);
          expect(Array.from(xhIn)).toEqual(Array.from(dx));
        });
      }
    }
  });

  describe(`${ops.name}: batch norm`, () => {
    // rows of up to SCRATCH_BYTES / 8 columns go row by row (sums in the scratch); 160 000 columns column by column
    for (const [M, N] of [[2, 1], [2, 4], [3, 5], [4, 8], [6, 13], [50, 512], [3, 3 * 33], [8, 160_003]]) {
      for (const beta of [true, false]) {
        it(`${M} rows of ${N}${beta ? ", with β" : ""}: forward with and without running estimates, backward, inference`, () => {
          const [x, xr] = pair(M * N), [g, gr] = pair(N, 0.5, 1.5), [b, br] = pair(N);
          const [rm, rmr] = pair(N), [rv, rvr] = pair(N, 0.5, 1.5);
          const [y, yr] = zeros(M * N), [xh, xhr] = zeros(M * N), [rs, rsr] = zeros(N);
          ops.batchNormForward(y, xh, rs, rm, rv, x, g, beta ? b : null, M, N, 0.1);
          refF32.batchNormForward(yr, xhr, rsr, rmr, rvr, xr, gr, beta ? br : null, M, N, 0.1);
          // float32 sums against the reference's float64 ones: a column of 2 nearly equal values loses digits
          for (const [got, want] of [[y, yr], [xh, xhr], [rs, rsr], [rm, rmr], [rv, rvr]]) expect(relErr(got, want)).toBeLessThan(TOL * 5);
          // without running estimates: the same output, and nothing else written; in place (y = x)
          const xi = ops.alloc(M * N), rm0 = Float32Array.from(rm);
          xi.set(x);
          const [xh2] = zeros(M * N), [rs2] = zeros(N);
          ops.batchNormForward(xi, xh2, rs2, null, null, xi, g, beta ? b : null, M, N, 0.1);
          expect(Array.from(xi)).toEqual(Array.from(y));
          expect(Array.from(rm)).toEqual(Array.from(rm0));
          // backward: dγ, dβ accumulate; dx separate, in place of dy and of xhat
          const [dy, dyr] = pair(M * N), [dg, dgr] = pair(N), [db, dbr] = pair(N), [dx, dxr] = zeros(M * N);
          ops.batchNormBackward(dx, dg, db, dy, xh, rs, g, M, N);
          refF32.batchNormBackward(dxr, dgr, dbr, dyr, xhr, rsr, gr, M, N);
          // dx is a difference of terms of size |γ dy|/σ, nearly cancelling over few rows: errors relative to those
          const maxAbs = (a: ArrayLike<number>) => {
            let m = 0;
            for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
            return m;
          };
          const terms = maxAbs(rs) * maxAbs(g) * maxAbs(dy);
          expect(relErr(dx, dxr, terms)).toBeLessThan(TOL * 10);
          expect(relErr(dg, dgr)).toBeLessThan(TOL * 10);
          expect(relErr(db, dbr)).toBeLessThan(TOL * 10);
          const dyIn = ops.alloc(M * N), xhIn = ops.alloc(M * N);
          dyIn.set(dy);
          xhIn.set(xh);
          ops.batchNormBackward(dyIn, null, null, dyIn, xh, rs, g, M, N);
          expect(Array.from(dyIn)).toEqual(Array.from(dx));
          ops.batchNormBackward(xhIn, null, null, dy, xhIn, rs, g, M, N);
          expect(Array.from(xhIn)).toEqual(Array.from(dx));
          // inference with the running estimates
          const [yi, yir] = zeros(M * N);
          ops.batchNormInfer(yi, x, g, beta ? b : null, rm, rv, M, N);
          refF32.batchNormInfer(yir, xr, gr, beta ? br : null, rmr, rvr, M, N);
          expect(relErr(yi, yir)).toBeLessThan(TOL);
        });
      }
    }

    it("matches its definition: per column mean 0 and biased variance 1 before γ, β; the running variance unbiased", () => {
      const M = 5, N = 3;
      const [x] = pair(M * N), [g] = pair(N, 1, 1), [rm] = zeros(N), rv = ops.alloc(N).fill(1);
      const [y] = zeros(M * N), [xh] = zeros(M * N), [rs] = zeros(N);
      ops.batchNormForward(y, xh, rs, rm, rv, x, g, null, M, N, 0.1);
      for (let j = 0; j < N; j++) {
        const col = Array.from({ length: M }, (_, i) => x[i * N + j]), mean = col.reduce((a, v) => a + v, 0) / M;
        const ss = col.reduce((a, v) => a + (v - mean) ** 2, 0);
        const yc = Array.from({ length: M }, (_, i) => y[i * N + j]);
        expect(Math.abs(yc.reduce((a, v) => a + v, 0) / M)).toBeLessThan(1e-6);
        expect(yc.reduce((a, v) => a + v * v, 0) / M).toBeCloseTo(ss / M / (ss / M + 1e-5), 5);
        expect(rm[j]).toBeCloseTo(0.1 * mean, 6);
        expect(rv[j]).toBeCloseTo(0.9 + (0.1 * ss) / (M - 1), 5);
      }
    });
  });

  describe(`${ops.name}: the LSTM step split at c_t's normalisation`, () => {
    for (const forget of [true, false]) {
      const G = forget ? 4 : 3;
      for (const [B, H] of [[1, 1], [2, 5], [3, 8], [4, 17], [50, 128]]) {
        for (const two of [false, true]) {
          it(`${forget ? "i f g o" : "i g o"}, B ${B}, H ${H}${two ? ", with gh and dh2" : ""}`, () => {
            const [gates, gatesR] = pair(B * G * H), [gh, ghR] = pair(B * G * H), [cPrev, cPrevR] = pair(B * H);
            const [c, cR] = zeros(B * H);
            ops.lstmNormCellForward(c, gates, cPrev, B, H, forget, two ? gh : null);
            refF32.lstmNormCellForward(cR, gatesR, cPrevR, B, H, forget, two ? ghR : null);
            expect(relErr(gates, gatesR)).toBeLessThan(TOL);
            expect(relErr(c, cR)).toBeLessThan(TOL);
            const [tc, tcR] = pair(B * H), [h, hR] = zeros(B * H);
            ops.lstmNormOutForward(h, tc, gates, B, H, forget);
            refF32.lstmNormOutForward(hR, tcR, gatesR, B, H, forget);
            expect(relErr(tc, tcR)).toBeLessThan(TOL);
            expect(relErr(h, hR)).toBeLessThan(TOL);
            // backward, dGates in place of gates (as the cell runs it)
            const [dh, dhR] = pair(B * H), [dh2, dh2R] = pair(B * H), [dcn, dcnR] = zeros(B * H);
            ops.lstmNormOutBackward(gates, dcn, dh, tc, gates, B, H, forget, two ? dh2 : null);
            refF32.lstmNormOutBackward(gatesR, dcnR, dhR, tcR, gatesR, B, H, forget, two ? dh2R : null);
            expect(relErr(dcn, dcnR)).toBeLessThan(TOL);
            expect(relErr(gates, gatesR)).toBeLessThan(TOL);
            const [dc, dcR] = pair(B * H);
            ops.lstmNormCellBackward(gates, dc, dcn, gates, cPrev, B, H, forget);
            refF32.lstmNormCellBackward(gatesR, dcR, dcnR, gatesR, cPrevR, B, H, forget);
            expect(relErr(gates, gatesR)).toBeLessThan(TOL);
            expect(relErr(dc, dcR)).toBeLessThan(TOL);
          });
        }
      }
    }

    it("with the normalisation left out (γ = 1, β = 0 replaced by c itself), it is the plain LSTM step", () => {
      // lstmNormCellForward + lstmNormOutForward(tc = c) = lstmCellForward, and the backward pair with
      // dcDirect = dcn = lstmCellBackward: the split kernels compute the same cell
      const B = 3, H = 6;
      for (const forget of [true, false]) {
        const G = forget ? 4 : 3;
        const [g1] = pair(B * G * H), [cPrev] = pair(B * H);
        const g2 = ops.alloc(B * G * H);
        g2.set(g1);
        const c1 = ops.alloc(B * H), h1 = ops.alloc(B * H), c2 = ops.alloc(B * H), h2 = ops.alloc(B * H);
        if (forget) ops.lstmCellForward(h1, c1, g1, cPrev, B, H);
        else ops.lstmNoForgetCellForward(h1, c1, g1, cPrev, B, H);
        ops.lstmNormCellForward(c2, g2, cPrev, B, H, forget);
        const tc = ops.alloc(B * H);
        tc.set(c2);
        ops.lstmNormOutForward(h2, tc, g2, B, H, forget);
        expect(Array.from(c2)).toEqual(Array.from(c1));
        expect(relErr(h2, h1)).toBeLessThan(TOL);
        const [dh] = pair(B * H), [dc0] = pair(B * H);
        const dc1 = ops.alloc(B * H), dc2 = ops.alloc(B * H), dcn = ops.alloc(B * H);
        dc1.set(dc0);
        dc2.set(dc0);
        if (forget) ops.lstmCellBackward(g1, dc1, dh, g1, c1, cPrev, B, H);
        else ops.lstmNoForgetCellBackward(g1, dc1, dh, g1, c1, B, H);
        ops.lstmNormOutBackward(g2, dcn, dh, tc, g2, B, H, forget);
        ops.lstmNormCellBackward(g2, dc2, dcn, g2, cPrev, B, H, forget);
        expect(relErr(g2, g1)).toBeLessThan(TOL);
        expect(relErr(dc2, dc1)).toBeLessThan(TOL);
      }
    });
  });
}
