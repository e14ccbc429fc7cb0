// The fast path: every kernel of types.ts in WebAssembly SIMD (source: ./asm/, built by
// scripts/build-wasm.mjs into the committed kernels.wasm and kernels-relaxed.wasm).
//
// Memory: one shared WebAssembly.Memory. `alloc` is a bump allocator over it (64-byte aligned, never
// frees). Its header lives in the memory itself: uint32 [0] = a random id of the memory, [1] = the next
// free byte (bumped with Atomics), so every instance created over the same memory (one per worker thread)
// allocates without overlap; [2] = the build (plain / relaxed SIMD) of the first instance, which later
// instances over that memory follow unless told otherwise, so every thread rounds alike. Each instance
// takes its own GEMM scratch area from that allocator.
//
// Every Float32Array given to a kernel must be a view of this memory (checked, with a clear error
// otherwise). Growing shared memory never detaches a view, but `memory.buffer` is a new
// SharedArrayBuffer object after a grow (and in each thread), so a buffer is recognised by the memory id
// in its first bytes, once, then remembered. Int32Array index arrays may be plain JS arrays; they are
// copied into a per-instance scratch area (an Int32Array that already lives in this memory is used in place).
import { readFileSync } from "node:fs";
import v8 from "node:v8";
import type { Arr, Kernels } from "./types.ts";

export interface WasmKernelOptions {
  /**
   * true: require relaxed SIMD (throws if this runtime lacks it); false: plain SIMD; default: the build
   * already running over `memory` if one is, else the best this runtime has
   */
  relaxed?: boolean;
  /** initial size of a new memory in 64 KiB pages (default 256 = 16 MiB; it grows as needed) */
  initialPages?: number;
  /** run over an existing shared memory (e.g. one a worker received) instead of a new one */
  memory?: WebAssembly.Memory;
}

export interface WasmKernels extends Kernels {
  readonly memory: WebAssembly.Memory;
  readonly relaxed: boolean;
}

/** The kernel module's exports (pointers are byte offsets into the memory). */
interface Exports {
  SCRATCH_BYTES: WebAssembly.Global;
  gemm_nn(c: number, ldc: number, a: number, lda: number, b: number, ldb: number, M: number, N: number, K: number, acc: number, ws: number): void;
  gemm_nt(c: number, ldc: number, a: number, lda: number, b: number, ldb: number, M: number, N: number, K: number, acc: number, ws: number): void;
  gemm_tn(c: number, ldc: number, a: number, lda: number, b: number, ldb: number, M: number, N: number, K: number, acc: number, ws: number): void;
  check_idx(idx: number, N: number, lo: number, hi: number): number;
  gather_rows(out: number, table: number, idx: number, N: number, C: number, acc: number): void;
  scatter_add_rows(dTable: number, dOut: number, idx: number, N: number, C: number): void;
  add_bias(out: number, b: number, N: number, C: number, acc: number): void;
  bias_backward(db: number, d: number, N: number, C: number): void;
  rnn_fwd(h: number, pre: number, n: number, relu: number): void;
  rnn_bwd(dPre: number, dh: number, h: number, n: number, relu: number): void;
  lstm_fwd(h: number, c: number, gates: number, cPrev: number, B: number, H: number): void;
  lstm_bwd(dGates: number, dc: number, dh: number, gates: number, c: number, cPrev: number, B: number, H: number): void;
  gru_fwd(h: number, gates: number, gx: number, gh: number, hPrev: number, B: number, H: number): void;
  gru_bwd(dgx: number, dgh: number, dhPrev: number, dh: number, gates: number, gh: number, hPrev: number, B: number, H: number): void;
  softmax_xent(dLogits: number, logits: number, targets: number, N: number, V: number, scale: number): number;
}

const MAX_PAGES = 65536; // 4 GiB, the wasm32 limit
const PAGE = 65536;
const ALIGN = 64;
const HEAP_START = 64; // bytes [0, 64) are the allocator header; offset 0 never names an array

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

function kernelModule(relaxed: boolean): WebAssembly.Module {
  let m = modules.get(relaxed);
  if (!m) {
    m = new WebAssembly.Module(wasmBytes(relaxed));
    modules.set(relaxed, m);
  }
  return m;
}

export function createWasmKernels(opts: WasmKernelOptions = {}): WasmKernels {
  const memory = opts.memory ?? new WebAssembly.Memory({ initial: opts.initialPages ?? 256, maximum: MAX_PAGES, shared: true });
  if (!(memory.buffer instanceof SharedArrayBuffer)) throw new Error("wasm kernels need a shared WebAssembly.Memory");
  let buf = memory.buffer as SharedArrayBuffer;
  // header: [0] memory id, [1] next free byte, [2] build of the first instance (1 plain, 2 relaxed); 0 = unset
  const header = new Uint32Array(buf, 0, 3);
  Atomics.compareExchange(header, 0, 0, 1 + Math.floor(Math.random() * 0x7ffffffe));
  Atomics.compareExchange(header, 1, 0, HEAP_START);
  const id = Atomics.load(header, 0);

  // build: as asked; else the one already running over this memory (so every thread computes alike);
  // else the best this runtime has
  const first = Atomics.load(header, 2);
  let relaxed: boolean;
  if (opts.relaxed === false) relaxed = false;
  else if (opts.relaxed === undefined && first !== 0) relaxed = first === 2 && relaxedSimdSupported();
  else {
    relaxed = relaxedSimdSupported();
    if (opts.relaxed === true && !relaxed) throw new Error("relaxed SIMD is not supported by this JavaScript runtime");
  }
  Atomics.compareExchange(header, 2, 0, relaxed ? 2 : 1);
  const ex = new WebAssembly.Instance(kernelModule(relaxed), { env: { memory } }).exports as unknown as Exports;

  // ---- allocator ----------------------------------------------------------------------------------
  const known = new WeakSet<ArrayBufferLike>([buf]);
  /** is b (a SharedArrayBuffer object of any thread or size) this memory? */
  const isOwn = (b: ArrayBufferLike): boolean => {
    if (known.has(b)) return true;
    if (!(b instanceof SharedArrayBuffer) || b.byteLength < 8 || new Uint32Array(b, 0, 1)[0] !== id) return false;
    known.add(b);
    return true;
  };

  function reserve(bytes: number): number {
    const size = Math.ceil(Math.max(bytes, 1) / ALIGN) * ALIGN;
    const off = Atomics.add(header, 1, size);
    const end = off + size;
    if (end > MAX_PAGES * PAGE || off < HEAP_START) throw new RangeError(`wasm kernels: out of memory (asked for ${bytes} bytes)`);
    const have = memory.buffer.byteLength;
    if (end > have) {
      try {
        memory.grow(Math.ceil((end - have) / PAGE));
      } catch {
        // another thread may have grown it meanwhile
        if (memory.buffer.byteLength < end) throw new RangeError(`wasm kernels: cannot grow memory to ${end} bytes`);
      }
    }
    if (memory.buffer !== buf) {
      buf = memory.buffer as SharedArrayBuffer;
      known.add(buf);
    }
    return off;
  }

  function alloc(n: number): Float32Array {
    const off = reserve(n * 4); // may grow the memory and renew buf: read buf after it
    const a = new Float32Array(buf, off, n);
    a.fill(0);
    return a;
  }

  const ws = reserve((ex.SCRATCH_BYTES.value as number) + 256);
  let idxCap = 0;
  let idxOff = 0;
  let idxView: Int32Array = new Int32Array(0);

  // ---- argument checks (cheap: a few comparisons per call) -----------------------------------------
  function f32(name: string, a: Arr, n: number): number {
    if (!(a instanceof Float32Array) || !isOwn(a.buffer)) {
      throw new TypeError(`wasm kernels: ${name} is not a Float32Array in this backend's memory (use its alloc())`);
    }
    if (a.length < n) throw new RangeError(`wasm kernels: ${name} has ${a.length} elements, needs ${n}`);
    return a.byteOffset;
  }

  /** byte offset of N indices inside the memory, copying them into scratch when they live outside */
  function indices(name: string, idx: Int32Array, N: number, lo: number, hi: number): number {
    if (idx.length < N) throw new RangeError(`wasm kernels: ${name} has ${idx.length} elements, needs ${N}`);
    let off: number;
    if (isOwn(idx.buffer)) off = idx.byteOffset;
    else {
      if (N > idxCap) {
        idxCap = Math.max(N, 2 * idxCap, 1024);
        idxOff = reserve(idxCap * 4);
        idxView = new Int32Array(buf, idxOff, idxCap);
      }
      idxView.set(idx.length === N ? idx : idx.subarray(0, N));
      off = idxOff;
    }
    const bad = ex.check_idx(off, N, lo, hi);
    if (bad >= 0) throw new RangeError(`wasm kernels: ${name}[${bad}] = ${idx[bad]} is out of range [${lo}, ${hi})`);
    return off;
  }

  const rows = (a: Arr, C: number): number => (C > 0 ? Math.floor(a.length / C) : 0);

  return {
    name: relaxed ? "wasm-relaxed-simd" : "wasm-simd",
    relaxed,
    memory,
    alloc,

    gemmNN(C, A, B, M, N, K, acc) {
      ex.gemm_nn(f32("C", C, M * N), N, f32("A", A, M * K), K, f32("B", B, K * N), N, M, N, K, acc ? 1 : 0, ws);
    },
    gemmNT(C, A, B, M, N, K, acc) {
      ex.gemm_nt(f32("C", C, M * N), N, f32("A", A, M * K), K, f32("B", B, N * K), K, M, N, K, acc ? 1 : 0, ws);
    },
    gemmTNAcc(C, A, B, M, N, K) {
      ex.gemm_tn(f32("C", C, M * N), N, f32("A", A, K * M), M, f32("B", B, K * N), N, M, N, K, 1, ws);
    },

    gatherRows(out, table, idx, N, C, acc) {
      const o = f32("out", out, N * C), t = f32("table", table, 0);
      if (N <= 0 || C <= 0) return;
      ex.gather_rows(o, t, indices("idx", idx, N, 0, rows(table, C)), N, C, acc ? 1 : 0);
    },
    scatterAddRows(dTable, dOut, idx, N, C) {
      const t = f32("dTable", dTable, 0), o = f32("dOut", dOut, N * C);
      if (N <= 0 || C <= 0) return;
      ex.scatter_add_rows(t, o, indices("idx", idx, N, 0, rows(dTable, C)), N, C);
    },
    addBias(out, b, N, C, acc) {
      ex.add_bias(f32("out", out, N * C), f32("b", b, C), N, C, acc ? 1 : 0);
    },
    biasBackward(db, d, N, C) {
      ex.bias_backward(f32("db", db, C), f32("d", d, N * C), N, C);
    },

    rnnCellForward(h, pre, B, H, relu) {
      ex.rnn_fwd(f32("h", h, B * H), f32("pre", pre, B * H), B * H, relu ? 1 : 0);
    },
    rnnCellBackward(dPre, dh, h, B, H, relu) {
      ex.rnn_bwd(f32("dPre", dPre, B * H), f32("dh", dh, B * H), f32("h", h, B * H), B * H, relu ? 1 : 0);
    },
    lstmCellForward(h, c, gates, cPrev, B, H) {
      ex.lstm_fwd(f32("h", h, B * H), f32("c", c, B * H), f32("gates", gates, 4 * B * H), f32("cPrev", cPrev, B * H), B, H);
    },
    lstmCellBackward(dGates, dc, dh, gates, c, cPrev, B, H) {
      const n = B * H;
      ex.lstm_bwd(f32("dGates", dGates, 4 * n), f32("dc", dc, n), f32("dh", dh, n), f32("gates", gates, 4 * n), f32("c", c, n), f32("cPrev", cPrev, n), B, H);
    },
    gruCellForward(h, gates, gx, gh, hPrev, B, H) {
      const n = B * H;
      ex.gru_fwd(f32("h", h, n), f32("gates", gates, 3 * n), f32("gx", gx, 3 * n), f32("gh", gh, 3 * n), f32("hPrev", hPrev, n), B, H);
    },
    gruCellBackward(dgx, dgh, dhPrev, dh, gates, gh, hPrev, B, H) {
      const n = B * H;
      ex.gru_bwd(f32("dgx", dgx, 3 * n), f32("dgh", dgh, 3 * n), f32("dhPrev", dhPrev, n), f32("dh", dh, n), f32("gates", gates, 3 * n),
        f32("gh", gh, 3 * n), f32("hPrev", hPrev, n), B, H);
    },

    softmaxXent(dLogits, logits, targets, N, V, scale) {
      const d = dLogits ? f32("dLogits", dLogits, N * V) : 0;
      const l = f32("logits", logits, N * V);
      if (N <= 0) return 0;
      return ex.softmax_xent(d, l, indices("targets", targets, N, -0x80000000, V), N, V, scale);
    },
  };
}
