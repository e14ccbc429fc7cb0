// The fast path: every kernel of types.ts in WebAssembly SIMD (source: ./asm/, built by
// scripts/build-wasm.mjs into the committed kernels.wasm and kernels-relaxed.wasm). This file binds the
// Kernels interface to the module's exports: it checks each argument (cheap: a few comparisons per call),
// turns arrays into byte offsets and calls the export. The parts behind it:
//   wasm-module.ts   the two builds, relaxed-SIMD detection, the exports' signatures
//   wasm-memory.ts   the shared memory and its allocator (alloc, growth, which views are accepted)
//   wasm-helper.ts   the helper thread for large few-row NT GEMMs (protocol: helper-protocol.mjs,
//                    the thread: helper.mjs)
import type { Arr, Kernels } from "./types.ts";
import { createGemmNTHelper } from "./wasm-helper.ts";
import { openWasmMemory } from "./wasm-memory.ts";
import { instantiate, kernelModule, relaxedSimdSupported } from "./wasm-module.ts";

export { relaxedSimdSupported };

export interface WasmKernelOptions {
  /**
   * true: require relaxed SIMD (throws if this runtime lacks it); false: plain SIMD; default: the build
   * already running over `memory` if one is, else the best this runtime has
   */
  relaxed?: boolean;
  /** initial size of a new memory in 64 KiB pages (default 256 = 16 MiB; it grows as needed) */
  initialPages?: number;
  /** run over an existing shared memory (e.g. one a worker received, `shared.memory` of another instance) instead of a new one */
  memory?: WebAssembly.Memory;
}

export interface WasmKernels extends Kernels {
  readonly shared: NonNullable<Kernels["shared"]>;
  readonly relaxed: boolean;
}

export function createWasmKernels(opts: WasmKernelOptions = {}): WasmKernels {
  const mem = openWasmMemory(opts);

  // build: as asked; else the one already running over this memory (so every thread computes alike); else
  // the best this runtime has
  const first = mem.firstBuild;
  let relaxed: boolean;
  if (opts.relaxed === false) relaxed = false;
  else if (opts.relaxed === undefined && first !== null) relaxed = first && relaxedSimdSupported();
  else {
    relaxed = relaxedSimdSupported();
    if (opts.relaxed === true && !relaxed) throw new Error("relaxed SIMD is not supported by this JavaScript runtime");
  }
  mem.recordBuild(relaxed);
  const ex = instantiate(relaxed, mem.memory);
  const ws = mem.reserve((ex.SCRATCH_BYTES.value as number) + 256); // this instance's GEMM scratch
  const helper = createGemmNTHelper(ex, ws, mem, kernelModule(relaxed));

  const f32 = mem.offset;
  /** byte offset of idx[0..n) in the memory, every index checked to lie in [lo, hi) */
  function indices(name: string, idx: Int32Array, n: number, lo: number, hi: number): number {
    const off = mem.int32(name, idx, n);
    const bad = ex.check_idx(off, n, lo, hi);
    if (bad >= 0) throw new RangeError(`wasm kernels: ${name}[${bad}] = ${idx[bad]} is out of range [${lo}, ${hi})`);
    return off;
  }
  /** rows of N columns in a */
  const rows = (a: Arr, N: number): number => (N > 0 ? Math.floor(a.length / N) : 0);

  return {
    name: relaxed ? "wasm-relaxed-simd" : "wasm-simd",
    relaxed,
    shared: { memory: mem.memory },
    alloc: mem.alloc,
    startHelper: helper.start,
    setHelper: helper.set,

    gemmNN(C, A, B, M, N, K, acc) {
      ex.gemm_nn(f32("C", C, M * N), N, f32("A", A, M * K), K, f32("B", B, K * N), N, M, N, K, acc ? 1 : 0, ws);
    },
    gemmNT(C, A, B, M, N, K, acc) {
      helper.gemmNT(f32("C", C, M * N), f32("A", A, M * K), f32("B", B, N * K), M, N, K, acc ? 1 : 0, 0);
    },
    gemmNTBias(C, A, B, bias, M, N, K) {
      helper.gemmNT(f32("C", C, M * N), f32("A", A, M * K), f32("B", B, N * K), M, N, K, 0, f32("bias", bias, N));
    },
    gemmTNAcc(C, A, B, M, N, K) {
      ex.gemm_tn(f32("C", C, M * N), N, f32("A", A, K * M), M, f32("B", B, K * N), N, M, N, K, 1, ws);
    },

    packedSize: (K, N) => ex.packed_size(K, N),
    packB(Bp, B, K, N, trans) {
      ex.pack_b(f32("Bp", Bp, ex.packed_size(K, N)), f32("B", B, K * N), trans ? K : N, K, N, trans ? 1 : 0);
    },
    gemmNNPacked(C, A, Bp, M, N, K, acc) {
      ex.gemm_nn_packed(f32("C", C, M * N), N, f32("A", A, M * K), K, f32("Bp", Bp, ex.packed_size(K, N)), M, N, K, acc ? 1 : 0, ws);
    },

    gatherRows(out, table, idx, M, N, acc) {
      const o = f32("out", out, M * N), t = f32("table", table, 0);
      if (M <= 0 || N <= 0) return;
      ex.gather_rows(o, t, indices("idx", idx, M, 0, rows(table, N)), M, N, acc ? 1 : 0);
    },
    scatterAddRows(dTable, dOut, idx, M, N) {
      const t = f32("dTable", dTable, 0), o = f32("dOut", dOut, M * N);
      if (M <= 0 || N <= 0) return;
      ex.scatter_add_rows(t, o, indices("idx", idx, M, 0, rows(dTable, N)), M, N);
    },
    addBias(out, bias, M, N, acc) {
      ex.add_bias(f32("out", out, M * N), f32("bias", bias, N), M, N, acc ? 1 : 0);
    },
    biasBackward(dBias, dOut, M, N) {
      ex.bias_backward(f32("dBias", dBias, N), f32("dOut", dOut, M * N), M, N);
    },
    transpose(dst, src, M, N, acc) {
      ex.transpose(f32("dst", dst, M * N), f32("src", src, M * N), M, N, acc ? 1 : 0);
    },

    addTo(y, x, n) {
      ex.add_to(f32("y", y, n), f32("x", x, n), n);
    },
    scale(x, s, n) {
      ex.scale(f32("x", x, n), s, n);
    },
    sumSquares(x, n) {
      return ex.sum_squares(f32("x", x, n), n);
    },
    adam(p, m, v, g, n, stepSize, b1, b2, bc2Sqrt, eps, wd) {
      ex.adam(f32("p", p, n), f32("m", m, n), f32("v", v, n), f32("g", g, n), n, stepSize, b1, 1 - b1, b2, 1 - b2, bc2Sqrt, eps, wd);
    },

    rnnCellForward(h, pre, B, H, relu, pre2) {
      const n = B * H;
      ex.rnn_fwd(f32("h", h, n), f32("pre", pre, n), n, relu ? 1 : 0, pre2 ? f32("pre2", pre2, n) : 0);
    },
    rnnCellBackward(dPre, dh, h, B, H, relu, dh2) {
      const n = B * H;
      ex.rnn_bwd(f32("dPre", dPre, n), f32("dh", dh, n), f32("h", h, n), n, relu ? 1 : 0, dh2 ? f32("dh2", dh2, n) : 0);
    },
    lstmCellForward(h, c, gates, cPrev, B, H, gh) {
      const n = B * H;
      ex.lstm_fwd(f32("h", h, n), f32("c", c, n), f32("gates", gates, 4 * n), f32("cPrev", cPrev, n), B, H, gh ? f32("gh", gh, 4 * n) : 0);
    },
    lstmCellBackward(dGates, dc, dh, gates, c, cPrev, B, H, dh2) {
      const n = B * H;
      ex.lstm_bwd(f32("dGates", dGates, 4 * n), f32("dc", dc, n), f32("dh", dh, n), f32("gates", gates, 4 * n), f32("c", c, n), f32("cPrev", cPrev, n), B, H,
        dh2 ? f32("dh2", dh2, n) : 0);
    },
    lstmNoForgetCellForward(h, c, gates, cPrev, B, H, gh) {
      const n = B * H;
      ex.nflstm_fwd(f32("h", h, n), f32("c", c, n), f32("gates", gates, 3 * n), f32("cPrev", cPrev, n), B, H, gh ? f32("gh", gh, 3 * n) : 0);
    },
    lstmNoForgetCellBackward(dGates, dc, dh, gates, c, B, H, dh2) {
      const n = B * H;
      ex.nflstm_bwd(f32("dGates", dGates, 3 * n), f32("dc", dc, n), f32("dh", dh, n), f32("gates", gates, 3 * n), f32("c", c, n), B, H,
        dh2 ? f32("dh2", dh2, n) : 0);
    },
    gruCellForward(h, gates, gx, gh, hPrev, B, H) {
      const n = B * H;
      ex.gru_fwd(f32("h", h, n), f32("gates", gates, 3 * n), f32("gx", gx, 3 * n), f32("gh", gh, 3 * n), f32("hPrev", hPrev, n), B, H);
    },
    gruCellBackward(dgx, dgh, dhPrev, dh, gates, gh, hPrev, B, H, dh2) {
      const n = B * H;
      ex.gru_bwd(f32("dgx", dgx, 3 * n), f32("dgh", dgh, 3 * n), f32("dhPrev", dhPrev, n), f32("dh", dh, n), f32("gates", gates, 3 * n),
        f32("gh", gh, 3 * n), f32("hPrev", hPrev, n), B, H, dh2 ? f32("dh2", dh2, n) : 0);
    },

    layerNormForward(y, xhat, rstd, x, gamma, beta, M, N) {
      const n = M * N;
      ex.ln_fwd(f32("y", y, n), f32("xhat", xhat, n), f32("rstd", rstd, M), f32("x", x, n), f32("gamma", gamma, N), beta ? f32("beta", beta, N) : 0, M, N);
    },
    layerNormBackward(dx, dgamma, dbeta, dy, xhat, rstd, gamma, M, N) {
      const n = M * N;
      ex.ln_bwd(f32("dx", dx, n), dgamma ? f32("dgamma", dgamma, N) : 0, dbeta ? f32("dbeta", dbeta, N) : 0, f32("dy", dy, n), f32("xhat", xhat, n),
        f32("rstd", rstd, M), f32("gamma", gamma, N), M, N);
    },
    batchNormForward(y, xhat, rstd, runMean, runVar, x, gamma, beta, M, N, momentum) {
      const n = M * N;
      ex.bn_fwd(f32("y", y, n), f32("xhat", xhat, n), f32("rstd", rstd, N), runMean ? f32("runMean", runMean, N) : 0, runMean ? f32("runVar", runVar!, N) : 0,
        f32("x", x, n), f32("gamma", gamma, N), beta ? f32("beta", beta, N) : 0, M, N, momentum, ws);
    },
    batchNormBackward(dx, dgamma, dbeta, dy, xhat, rstd, gamma, M, N) {
      const n = M * N;
      ex.bn_bwd(f32("dx", dx, n), dgamma ? f32("dgamma", dgamma, N) : 0, dbeta ? f32("dbeta", dbeta, N) : 0, f32("dy", dy, n), f32("xhat", xhat, n),
        f32("rstd", rstd, N), f32("gamma", gamma, N), M, N, ws);
    },
    batchNormInfer(y, x, gamma, beta, runMean, runVar, M, N) {
      const n = M * N;
      ex.bn_infer(f32("y", y, n), f32("x", x, n), f32("gamma", gamma, N), beta ? f32("beta", beta, N) : 0, f32("runMean", runMean, N), f32("runVar", runVar, N), M, N);
    },
    lstmNormCellForward(c, gates, cPrev, B, H, forget, gh) {
      const n = B * H, G = forget ? 4 : 3;
      ex.lstmn_fwd(f32("c", c, n), f32("gates", gates, G * n), f32("cPrev", cPrev, n), B, H, forget ? 1 : 0, gh ? f32("gh", gh, G * n) : 0);
    },
    lstmNormOutForward(h, tc, gates, B, H, forget) {
      const n = B * H, G = forget ? 4 : 3;
      ex.lstmn_out_fwd(f32("h", h, n), f32("tc", tc, n), f32("gates", gates, G * n), B, H, forget ? 1 : 0);
    },
    lstmNormOutBackward(dGates, dcn, dh, tc, gates, B, H, forget, dh2) {
      const n = B * H, G = forget ? 4 : 3;
      ex.lstmn_out_bwd(f32("dGates", dGates, G * n), f32("dcn", dcn, n), f32("dh", dh, n), f32("tc", tc, n), f32("gates", gates, G * n), B, H, forget ? 1 : 0,
        dh2 ? f32("dh2", dh2, n) : 0);
    },
    lstmNormCellBackward(dGates, dc, dcDirect, gates, cPrev, B, H, forget) {
      const n = B * H, G = forget ? 4 : 3;
      ex.lstmn_bwd(f32("dGates", dGates, G * n), f32("dc", dc, n), f32("dcDirect", dcDirect, n), f32("gates", gates, G * n), f32("cPrev", cPrev, n), B, H, forget ? 1 : 0);
    },

    softmaxXent(dLogits, logits, targets, M, V, scale) {
      const d = dLogits ? f32("dLogits", dLogits, M * V) : 0;
      const l = f32("logits", logits, M * V);
      if (M <= 0) return 0;
      return ex.softmax_xent(d, l, indices("targets", targets, M, -0x80000000, V), M, V, scale);
    },
  };
}
