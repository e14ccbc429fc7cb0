// The compiled kernels: the two committed builds of ./asm/ (scripts/build-wasm.mjs), whether this runtime
// runs the relaxed-SIMD one, and the signatures of the module's exports. Every pointer an export takes is a
// byte offset into the memory it was instantiated over (wasm-memory.ts); every other argument is in elements.
import { readFileSync } from "node:fs";
import v8 from "node:v8";

/** The kernel module's exports. Booleans are 0 | 1; a pointer of 0 means "none" (nothing lives at 0). */
export interface Exports {
  /** bytes of scratch each thread's GEMMs need */
  SCRATCH_BYTES: WebAssembly.Global;
  /** rows of the single-row NT GEMM's tile: the helper thread splits in multiples of it */
  NT_ROW_TILE: WebAssembly.Global;
  gemm_nn(c: number, ldc: number, a: number, lda: number, b: number, ldb: number, M: number, N: number, K: number, acc: number, ws: number): void;
  gemm_nt(c: number, ldc: number, a: number, lda: number, b: number, ldb: number, M: number, N: number, K: number, acc: number, ws: number, bias: number): void;
  gemm_tn(c: number, ldc: number, a: number, lda: number, b: number, ldb: number, M: number, N: number, K: number, acc: number, ws: number): void;
  packed_size(K: number, N: number): number;
  pack_b(dst: number, b: number, ldb: number, K: number, N: number, trans: number): void;
  gemm_nn_packed(c: number, ldc: number, a: number, lda: number, bp: number, M: number, N: number, K: number, acc: number, ws: number): void;
  transpose(dst: number, src: number, R: number, C: number, acc: number): void;
  add_to(y: number, x: number, n: number): void;
  scale(x: number, s: number, n: number): void;
  sum_squares(x: number, n: number): number;
  adam(p: number, m: number, v: number, g: number, n: number, stepSize: number, b1: number, c1: number, b2: number, c2: number, bc2Sqrt: number, eps: number, wd: number): void;
  check_idx(idx: number, N: number, lo: number, hi: number): number;
  gather_rows(out: number, table: number, idx: number, N: number, C: number, acc: number): void;
  scatter_add_rows(dTable: number, dOut: number, idx: number, N: number, C: number): void;
  add_bias(out: number, b: number, N: number, C: number, acc: number): void;
  bias_backward(db: number, d: number, N: number, C: number): void;
  rnn_fwd(h: number, pre: number, n: number, relu: number, pre2: number): void;
  rnn_bwd(dPre: number, dh: number, h: number, n: number, relu: number, dh2: number): void;
  lstm_fwd(h: number, c: number, gates: number, cPrev: number, B: number, H: number, gh: number): void;
  lstm_bwd(dGates: number, dc: number, dh: number, gates: number, c: number, cPrev: number, B: number, H: number, dh2: number): void;
  nflstm_fwd(h: number, c: number, gates: number, cPrev: number, B: number, H: number, gh: number): void;
  nflstm_bwd(dGates: number, dc: number, dh: number, gates: number, c: number, B: number, H: number, dh2: number): void;
  gru_fwd(h: number, gates: number, gx: number, gh: number, hPrev: number, B: number, H: number): void;
  gru_bwd(dgx: number, dgh: number, dhPrev: number, dh: number, gates: number, gh: number, hPrev: number, B: number, H: number, dh2: number): void;
  ln_fwd(y: number, xhat: number, rstd: number, x: number, gamma: number, beta: number, M: number, N: number): void;
  ln_bwd(dx: number, dgamma: number, dbeta: number, dy: number, xhat: number, rstd: number, gamma: number, M: number, N: number): void;
  bn_fwd(y: number, xhat: number, rstd: number, runMean: number, runVar: number, x: number, gamma: number, beta: number, M: number, N: number, momentum: number, ws: number): void;
  bn_bwd(dx: number, dgamma: number, dbeta: number, dy: number, xhat: number, rstd: number, gamma: number, M: number, N: number, ws: number): void;
  bn_infer(y: number, x: number, gamma: number, beta: number, runMean: number, runVar: number, M: number, N: number): void;
  lstmn_fwd(c: number, gates: number, cPrev: number, B: number, H: number, forget: number, gh: number): void;
  lstmn_out_fwd(h: number, tc: number, gates: number, B: number, H: number, forget: number): void;
  lstmn_out_bwd(dGates: number, dcn: number, dh: number, tc: number, gates: number, B: number, H: number, forget: number, dh2: number): void;
  lstmn_bwd(dGates: number, dc: number, dcd: number, gates: number, cPrev: number, B: number, H: number, forget: number): void;
  softmax_xent(dLogits: number, logits: number, targets: number, N: number, V: number, scale: number): number;
}

const modules = new Map<boolean, WebAssembly.Module>();
let relaxedOk: boolean | null = null;

function wasmBytes(relaxed: boolean): Uint8Array {
  return readFileSync(new URL(relaxed ? "./kernels-relaxed.wasm" : "./kernels.wasm", import.meta.url));
}

/** Can this runtime run the relaxed-SIMD build? Node 20 needs a V8 flag, set here before compiling. */
export function relaxedSimdSupported(): boolean {
  if (relaxedOk === null) {
    const bytes = wasmBytes(true);
    let ok = WebAssembly.validate(bytes);
    if (!ok) {
      try {
        v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
      } catch {
        // no such flag on this runtime: stay with plain SIMD
      }
      ok = WebAssembly.validate(bytes);
    }
    relaxedOk = ok;
  }
  return relaxedOk;
}

/** The compiled module of one build (compiled once per thread, then shared by its instances). */
export function kernelModule(relaxed: boolean): WebAssembly.Module {
  let m = modules.get(relaxed);
  if (!m) {
    m = new WebAssembly.Module(wasmBytes(relaxed));
    modules.set(relaxed, m);
  }
  return m;
}

/** An instance of one build over `memory` (the module has no state of its own: any number may share it). */
export function instantiate(relaxed: boolean, memory: WebAssembly.Memory): Exports {
  return new WebAssembly.Instance(kernelModule(relaxed), { env: { memory } }).exports as unknown as Exports;
}
