// The WebAssembly kernels against the float32 reference: every kernel on awkward sizes (tile, block and
// SIMD-lane edges, unaligned views), the in-place aliasing contract, argument checks, the allocator, and a
// whole model forward + backward for every cell, in both builds (plain SIMD, and relaxed SIMD when this
// runtime has it). Finally, the committed .wasm files must be what the sources build to.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import type { ModelConfig } from "../src/config.ts";
import { refF32 } from "../src/kernels/ref.ts";
import type { Kernels } from "../src/kernels/types.ts";
import { createWasmKernels, relaxedSimdSupported } from "../src/kernels/wasm.ts";
import { initParams } from "../src/model/init.ts";
import { backward, createModel, createState, createWorkspace, forward, pack } from "../src/model/model.ts";
import { makeSlab } from "../src/model/params.ts";
import { makeRng } from "../src/rng.ts";

const TOL = 1e-5;
const rng = makeRng(1234);

/**
 * max |got − want| / scale: the error relative to the array's scale, by default max |want| (floored at
 * 1e-30, far below float32 noise for O(1) data, so results that are all ≈ 0 compare absolutely).
 */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>, scale?: number): number {
  expect(got.length).toBe(want.length);
  let err = 0, s = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    err = Math.max(err, Math.abs(got[i] - want[i]));
    s = Math.max(s, Math.abs(want[i]));
  }
  return err / Math.max(scale ?? s, 1e-30);
}

/** the scale of a GEMM's result: max over C of |C0| + Σ_k |a|·|b| (cancellation can make C itself tiny) */
function gemmScale(op: "gemmNN" | "gemmNT" | "gemmTNAcc", C0: Float32Array | null, A: Float32Array, B: Float32Array, M: number, N: number, K: number): number {
  const S = C0 ? C0.map(Math.abs) : new Float32Array(M * N);
  const a = A.map(Math.abs), b = B.map(Math.abs);
  if (op === "gemmTNAcc") refF32.gemmTNAcc(S, a, b, M, N, K);
  else refF32[op](S, a, b, M, N, K, true);
  return S.reduce((m, x) => Math.max(m, x), 0);
}

/** an array of n from ops' memory, filled U(−s, s); `skew` starts it one float past an aligned block */
function rand(ops: Kernels, n: number, s = 1, skew = false): Float32Array {
  const a = (skew ? ops.alloc(n + 1).subarray(1) : ops.alloc(n)) as Float32Array;
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-s, s);
  return a;
}

const builds = relaxedSimdSupported() ? [false, true] : [false];

for (const relaxed of builds) {
  const ops = createWasmKernels({ relaxed });
  const copy = (a: Float32Array) => Float32Array.from(a); // plain memory, for the reference

  describe(ops.name, () => {
    it("is the build asked for", () => {
      expect(ops.name).toBe(relaxed ? "wasm-relaxed-simd" : "wasm-simd");
    });

    // [M, N, K]: 1s, lane/tile edges, k blocks (KC = 256), NT row blocks (131072/K rows), row blocks
    // (NN 256, TN 128), column blocks (1024), NT through packs (K < 96 and M ≥ 64)
    const shapes = [
      [1, 1, 1], [1, 7, 3], [3, 17, 33], [17, 3, 64], [33, 129, 17], [64, 64, 64], [129, 33, 300],
      [5, 9, 513], [2, 1030, 5], [260, 20, 513], [50, 128, 32], [4, 16, 256], [100, 37, 5], [65, 1030, 20],
    ];
    for (const [M, N, Kd] of shapes) {
      for (const skew of [false, true]) {
        it(`gemm ${M}×${N}×${Kd}${skew ? " (unaligned views)" : ""}`, () => {
          const A = rand(ops, M * Kd, 1, skew), B = rand(ops, N * Kd, 1, skew);
          for (const acc of [false, true]) {
            const C0 = rand(ops, M * N, 1, skew);
            const C = rand(ops, M * N, 1, skew);
            C.set(C0);
            const R = copy(C0);
            const c0 = acc ? C0 : null;
            ops.gemmNN(C, A, B, M, N, Kd, acc);
            refF32.gemmNN(R, copy(A), copy(B), M, N, Kd, acc);
            expect(relErr(C, R, gemmScale("gemmNN", c0, A, B, M, N, Kd)), `NN acc=${acc}`).toBeLessThan(TOL);
            C.set(C0);
            R.set(C0);
            ops.gemmNT(C, A, B, M, N, Kd, acc);
            refF32.gemmNT(R, copy(A), copy(B), M, N, Kd, acc);
            expect(relErr(C, R, gemmScale("gemmNT", c0, A, B, M, N, Kd)), `NT acc=${acc}`).toBeLessThan(TOL);
          }
          const C = rand(ops, M * N, 1, skew), R = copy(C);
          const scale = gemmScale("gemmTNAcc", R, A, B, M, N, Kd);
          ops.gemmTNAcc(C, A, B, M, N, Kd);
          refF32.gemmTNAcc(R, copy(A), copy(B), M, N, Kd);
          expect(relErr(C, R, scale), "TN").toBeLessThan(TOL);
        });
      }
    }

    it("gemm leaves everything outside C alone, and K = 0 clears or keeps C", () => {
      const M = 5, N = 6, Kd = 7;
      const A = rand(ops, M * Kd), B = rand(ops, N * Kd);
      const big = rand(ops, M * N + 8);
      const C = big.subarray(4, 4 + M * N);
      const before = copy(big);
      ops.gemmNN(C, A, B, M, N, Kd, false);
      ops.gemmNT(C, A, B, M, N, Kd, true);
      ops.gemmTNAcc(C, A, B, M, N, Kd);
      expect([...big.subarray(0, 4), ...big.subarray(4 + M * N)]).toEqual([...before.subarray(0, 4), ...before.subarray(4 + M * N)]);
      ops.gemmNN(C, A, B, M, N, 0, true);
      expect(C.some((x) => x !== 0)).toBe(true);
      ops.gemmNN(C, A, B, M, N, 0, false);
      expect(C.every((x) => x === 0)).toBe(true);
    });

    for (const [N, C] of [[1, 1], [7, 3], [33, 17], [5, 64]]) {
      it(`gather / scatter / bias ${N}×${C}`, () => {
        const R = 9;
        const table = rand(ops, R * C), out = rand(ops, N * C), d = rand(ops, N * C), b = rand(ops, C);
        const idx = new Int32Array(N).map(() => rng.int(R));
        for (const acc of [false, true]) {
          const o = ops.alloc(N * C) as Float32Array;
          o.set(out);
          const r = copy(out);
          ops.gatherRows(o, table, idx, N, C, acc);
          refF32.gatherRows(r, copy(table), idx, N, C, acc);
          expect(relErr(o, r)).toBeLessThan(TOL);
          o.set(out);
          r.set(out);
          ops.addBias(o, b, N, C, acc);
          refF32.addBias(r, copy(b), N, C, acc);
          expect(relErr(o, r)).toBeLessThan(TOL);
        }
        const dT = rand(ops, R * C), dTr = copy(dT);
        ops.scatterAddRows(dT, d, idx, N, C);
        refF32.scatterAddRows(dTr, copy(d), idx, N, C);
        expect(relErr(dT, dTr)).toBeLessThan(TOL);
        const db = rand(ops, C), dbr = copy(db);
        ops.biasBackward(db, d, N, C);
        refF32.biasBackward(dbr, copy(d), N, C);
        expect(relErr(db, dbr)).toBeLessThan(TOL);
      });
    }

    // pre-activations wide enough to saturate, plus exact zeros and huge values
    const preact = (n: number): Float32Array => {
      const a = rand(ops, n, 6);
      const special = [0, -0, 100, -100, 1e-3, -1e-3, 0.6249, 0.6251, 88.5, -88.5];
      for (let i = 0; i < Math.min(n, special.length); i++) a[(i * 7) % n] = special[i];
      return a;
    };
    for (const [B, H] of [[1, 1], [3, 5], [2, 8], [3, 17]]) {
      const n = B * H;
      it(`rnn cell ${B}×${H}`, () => {
        for (const relu of [false, true]) {
          const pre = preact(n), h = ops.alloc(n) as Float32Array, hr = new Float32Array(n);
          ops.rnnCellForward(h, pre, B, H, relu);
          refF32.rnnCellForward(hr, copy(pre), B, H, relu);
          expect(relErr(h, hr), "forward").toBeLessThan(TOL);
          const dh = rand(ops, n), dPre = ops.alloc(n) as Float32Array, dPreR = new Float32Array(n);
          ops.rnnCellBackward(dPre, dh, h, B, H, relu);
          refF32.rnnCellBackward(dPreR, copy(dh), hr, B, H, relu);
          expect(relErr(dPre, dPreR), "backward").toBeLessThan(TOL);
        }
      });

      it(`lstm cell ${B}×${H}, dGates aliasing gates`, () => {
        const gates = preact(4 * n), cPrev = rand(ops, n, 2);
        const h = ops.alloc(n) as Float32Array, c = ops.alloc(n) as Float32Array;
        const gr = copy(gates), hr = new Float32Array(n), cr = new Float32Array(n);
        ops.lstmCellForward(h, c, gates, cPrev, B, H);
        refF32.lstmCellForward(hr, cr, gr, copy(cPrev), B, H);
        expect(relErr(gates, gr), "activations").toBeLessThan(TOL);
        expect(relErr(c, cr), "c").toBeLessThan(TOL);
        expect(relErr(h, hr), "h").toBeLessThan(TOL);
        const dc = rand(ops, n), dh = rand(ops, n);
        const dcr = copy(dc);
        // separate output
        const dG = ops.alloc(4 * n) as Float32Array, dGr = new Float32Array(4 * n);
        const dc1 = ops.alloc(n) as Float32Array;
        dc1.set(dc);
        ops.lstmCellBackward(dG, dc1, dh, gates, c, cPrev, B, H);
        refF32.lstmCellBackward(dGr, dcr, copy(dh), gr, cr, copy(cPrev), B, H);
        expect(relErr(dG, dGr), "dGates").toBeLessThan(TOL);
        expect(relErr(dc1, dcr), "dc").toBeLessThan(TOL);
        // in place: dGates = gates
        ops.lstmCellBackward(gates, dc, dh, gates, c, cPrev, B, H);
        expect(relErr(gates, dGr), "dGates in place").toBeLessThan(TOL);
        expect(relErr(dc, dcr), "dc (in place run)").toBeLessThan(TOL);
      });

      it(`lstm-nofg cell ${B}×${H}, dGates aliasing gates`, () => {
        const gates = preact(3 * n), cPrev = rand(ops, n, 2);
        const h = ops.alloc(n) as Float32Array, c = ops.alloc(n) as Float32Array;
        const gr = copy(gates), hr = new Float32Array(n), cr = new Float32Array(n);
        ops.lstmNoForgetCellForward(h, c, gates, cPrev, B, H);
        refF32.lstmNoForgetCellForward(hr, cr, gr, copy(cPrev), B, H);
        expect(relErr(gates, gr), "activations").toBeLessThan(TOL);
        expect(relErr(c, cr), "c").toBeLessThan(TOL);
        expect(relErr(h, hr), "h").toBeLessThan(TOL);
        const dc = rand(ops, n), dh = rand(ops, n);
        const dcr = copy(dc);
        // separate output
        const dG = ops.alloc(3 * n) as Float32Array, dGr = new Float32Array(3 * n);
        const dc1 = ops.alloc(n) as Float32Array;
        dc1.set(dc);
        ops.lstmNoForgetCellBackward(dG, dc1, dh, gates, c, B, H);
        refF32.lstmNoForgetCellBackward(dGr, dcr, copy(dh), gr, cr, B, H);
        expect(relErr(dG, dGr), "dGates").toBeLessThan(TOL);
        expect(relErr(dc1, dcr), "dc").toBeLessThan(TOL);
        // in place: dGates = gates
        ops.lstmNoForgetCellBackward(gates, dc, dh, gates, c, B, H);
        expect(relErr(gates, dGr), "dGates in place").toBeLessThan(TOL);
        expect(relErr(dc, dcr), "dc (in place run)").toBeLessThan(TOL);
      });

      it(`gru cell ${B}×${H}, gates aliasing gx, dgx aliasing gates, dgh aliasing gh`, () => {
        const gx = preact(3 * n), gh = rand(ops, 3 * n, 3), hPrev = rand(ops, n);
        const h = ops.alloc(n) as Float32Array, gates = ops.alloc(3 * n) as Float32Array;
        const hr = new Float32Array(n), gatesR = new Float32Array(3 * n);
        ops.gruCellForward(h, gates, gx, gh, hPrev, B, H);
        refF32.gruCellForward(hr, gatesR, copy(gx), copy(gh), copy(hPrev), B, H);
        expect(relErr(gates, gatesR), "gates").toBeLessThan(TOL);
        expect(relErr(h, hr), "h").toBeLessThan(TOL);
        const h2 = ops.alloc(n) as Float32Array;
        ops.gruCellForward(h2, gx, gx, gh, hPrev, B, H); // gates written over gx
        expect(relErr(gx, gatesR), "gates in place").toBeLessThan(TOL);
        expect(relErr(h2, hr), "h (in place run)").toBeLessThan(TOL);

        const dh = rand(ops, n), dhPrev = rand(ops, n);
        const dgx = ops.alloc(3 * n) as Float32Array, dgh = ops.alloc(3 * n) as Float32Array, dhPrev1 = copy(dhPrev);
        const dgxR = new Float32Array(3 * n), dghR = new Float32Array(3 * n), dhPrevR = copy(dhPrev);
        const ghR = copy(gh);
        ops.gruCellBackward(dgx, dgh, dhPrev, dh, gates, gh, hPrev, B, H);
        refF32.gruCellBackward(dgxR, dghR, dhPrevR, copy(dh), gatesR, ghR, copy(hPrev), B, H);
        expect(relErr(dgx, dgxR), "dgx").toBeLessThan(TOL);
        expect(relErr(dgh, dghR), "dgh").toBeLessThan(TOL);
        expect(relErr(dhPrev, dhPrevR), "dhPrev").toBeLessThan(TOL);
        // in place: dgx over gates (= gx here), dgh over gh
        const dhp = ops.alloc(n) as Float32Array;
        dhp.set(dhPrev1);
        ops.gruCellBackward(gx, gh, dhp, dh, gx, gh, hPrev, B, H);
        expect(relErr(gx, dgxR), "dgx in place").toBeLessThan(TOL);
        expect(relErr(gh, dghR), "dgh in place").toBeLessThan(TOL);
        expect(relErr(dhp, dhPrevR), "dhPrev (in place run)").toBeLessThan(TOL);
      });
    }

    for (const V of [1, 3, 65, 67]) {
      it(`softmax cross-entropy N=9 V=${V}`, () => {
        const N = 9;
        const logits = rand(ops, N * V, 8);
        logits[0] = 80; // far from the others: exp(l − max) underflows for most of row 0
        const targets = new Int32Array(N).map((_, i) => (i === 4 ? -1 : rng.int(V)));
        const d = rand(ops, N * V), dr = new Float32Array(N * V);
        const loss = ops.softmaxXent(d, logits, targets, N, V, 0.25);
        const lossR = refF32.softmaxXent(dr, copy(logits), targets, N, V, 0.25);
        expect(Math.abs(loss - lossR) / Math.max(Math.abs(lossR), 1e-30)).toBeLessThan(TOL);
        expect(relErr(d, dr)).toBeLessThan(TOL);
        expect(ops.softmaxXent(null, logits, targets, N, V, 0.25)).toBe(loss);
      });
    }

    it("rejects arrays from elsewhere, short arrays and bad indices", () => {
      const a = ops.alloc(12);
      expect(() => ops.gemmNN(new Float32Array(4), a, a, 2, 2, 2, false)).toThrow(/not a Float32Array in this backend's memory/);
      expect(() => ops.gemmNN(a, a, a, 4, 4, 4, false)).toThrow(/needs 16/);
      expect(() => ops.gatherRows(a, a, new Int32Array([0, 4]), 2, 3, false)).toThrow(/idx\[1\] = 4 is out of range/);
      expect(() => ops.scatterAddRows(a, a, new Int32Array([-1]), 1, 3)).toThrow(/out of range/);
      expect(() => ops.softmaxXent(null, a, new Int32Array([0, 6]), 2, 6, 1)).toThrow(/targets\[1\] = 6/);
      const other = createWasmKernels({ relaxed });
      expect(() => ops.addBias(other.alloc(4), a, 1, 4, false)).toThrow(/not a Float32Array in this backend's memory/);
    });
  });
}

describe("wasm allocator and memory", () => {
  it("hands out zeroed, 64-byte aligned, disjoint views and grows without breaking old ones", () => {
    const ops = createWasmKernels({ relaxed: false, initialPages: 1 });
    const a = ops.alloc(3) as Float32Array;
    a.set([1, 2, 3]);
    const big = ops.alloc(3 << 20) as Float32Array; // 12 MiB: the memory must grow
    expect(ops.shared.memory.buffer.byteLength).toBeGreaterThanOrEqual(big.byteOffset + big.byteLength);
    expect(big.every((x) => x === 0)).toBe(true);
    const b = ops.alloc(5) as Float32Array;
    for (const v of [a, big, b]) expect(v.byteOffset % 64).toBe(0);
    expect(b.byteOffset).toBeGreaterThanOrEqual(big.byteOffset + big.byteLength);
    // the old view still works in a kernel after the grow, next to the new one
    b.fill(1);
    ops.addBias(b, a, 1, 3, true);
    expect([...b]).toEqual([2, 3, 4, 1, 1]);
  });

  it("shares one allocator, and the build, between instances over the same memory", () => {
    const ops1 = createWasmKernels({ relaxed: false });
    const ops2 = createWasmKernels({ memory: ops1.shared.memory });
    expect(ops2.name).toBe(ops1.name);
    const x = ops1.alloc(10) as Float32Array, y = ops2.alloc(10) as Float32Array, z = ops1.alloc(10) as Float32Array;
    const spans = [x, y, z].map((v) => [v.byteOffset, v.byteOffset + v.byteLength]).sort((p, q) => p[0] - q[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
    // ops2 grows the memory; a view ops1 never handed out, made on the grown buffer, is still accepted by ops1
    const big = ops2.alloc(8 << 20) as Float32Array;
    const again = new Float32Array(ops1.shared.memory.buffer, big.byteOffset, 4);
    again.set([1, 2, 3, 4]);
    ops1.addBias(again, x.subarray(0, 4).fill(1), 1, 4, true);
    expect([...big.subarray(0, 4)]).toEqual([2, 3, 4, 5]);
  });

  it("declares its shared memory on the Kernels interface, which the reference backend does not have", () => {
    const ops = createWasmKernels({ relaxed: false });
    const a = ops.alloc(4) as Float32Array;
    expect(ops.shared.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    // what another thread sees of an array: the shared memory at the array's byte offset
    new Float32Array(ops.shared.memory.buffer, a.byteOffset, 4).set([1, 2, 3, 4]);
    expect([...a]).toEqual([1, 2, 3, 4]);
    const generic: Kernels = ops;
    expect(generic.shared?.memory).toBe(ops.shared.memory);
    expect(refF32.shared).toBeNull();
  });
});

// ---- whole model: wasm vs refF32, same parameters, same data ---------------------------------------

const cells: [string, Partial<ModelConfig>][] = [
  ["rnn-tanh", { cell: "rnn", activation: "tanh" }],
  ["rnn-relu", { cell: "rnn", activation: "relu" }],
  ["lstm", { cell: "lstm" }],
  ["lstm-nofg", { cell: "lstm", forgetGate: false }],
  ["gru", { cell: "gru" }],
];

function runModel(ops: Kernels, cfg: ModelConfig, params: Float32Array | null, B: number, T: number) {
  const m = createModel(cfg, ops);
  const r = makeRng(99); // data and state
  if (params) {
    m.params.data.set(params);
    pack(m);
  } else {
    initParams(m, { init: "pytorch", forgetBias: null }, makeRng(98));
    for (let i = 0; i < m.params.data.length; i++) m.params.data[i] *= 1.5;
    pack(m);
  }
  const ws = createWorkspace(m, B, T);
  for (let i = 0; i < B * T; i++) {
    ws.idx[i] = r.int(cfg.vocabSize);
    ws.targets[i] = i % 7 === 3 ? -1 : r.int(cfg.vocabSize);
  }
  const st = createState(m, B);
  for (const a of [...st.h, ...st.c]) for (let i = 0; i < a.length; i++) a[i] = r.uniform(-0.8, 0.8);
  const f = forward(m, ws, st, { grad: true });
  const grads = makeSlab(m.spec, (n) => ops.alloc(n));
  backward(m, ws, grads);
  return { m, f, grads, st };
}

for (const relaxed of builds) {
  const ops = createWasmKernels({ relaxed });
  describe(`${ops.name}: whole model forward + backward vs ref-f32`, () => {
    for (const [name, mc] of cells) {
      for (const embed of [0, 6]) {
        it(`${name} ${embed ? "embedding" : "one-hot"}`, () => {
          const cfg: ModelConfig = { cell: "lstm", layers: 2, hidden: 7, embed, activation: "tanh", residual: embed > 0, vocabSize: 11, ...mc };
          const B = 3, T = 5;
          const ref = runModel(refF32, cfg, null, B, T);
          const got = runModel(ops, cfg, ref.m.params.data as Float32Array, B, T);
          expect(got.f.count).toBe(ref.f.count);
          expect(Math.abs(got.f.lossSum - ref.f.lossSum) / ref.f.lossSum, "loss").toBeLessThan(TOL);
          for (const t of ref.m.spec.tensors) {
            expect(relErr(got.grads.views[t.name], ref.grads.views[t.name]), `grad ${t.name}`).toBeLessThan(TOL);
          }
          for (let l = 0; l < cfg.layers; l++) {
            expect(relErr(got.st.h[l], ref.st.h[l]), `h state l${l}`).toBeLessThan(TOL);
            if (cfg.cell === "lstm") expect(relErr(got.st.c[l], ref.st.c[l]), `c state l${l}`).toBeLessThan(TOL);
          }
        });
      }
    }
  });
}

// ---- the committed artifacts are what the sources build to ------------------------------------------

const hasAsc = (() => {
  try {
    createRequire(import.meta.url).resolve("assemblyscript/package.json");
    return true;
  } catch {
    return false;
  }
})();

describe("build", () => {
  it.skipIf(!hasAsc)("rebuilding src/kernels/asm gives the committed .wasm bytes", () => {
    const out = execFileSync(process.execPath, ["scripts/build-wasm.mjs", "--check"], { encoding: "utf8" });
    expect(out).toMatch(/ok +src\/kernels\/kernels\.wasm/);
    expect(out).toMatch(/ok +src\/kernels\/kernels-relaxed\.wasm/);
  }, 60_000);
});
