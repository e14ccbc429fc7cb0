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
//
// Helper thread: on the main thread of a machine with ≥ 2 cores, an NT GEMM of at most 8 rows over ≥ 1 MiB
// of weights (sampling's matrix-vector products; they stream the weights from memory) is shared with a
// worker thread (./helper.mjs) running its own instance over the same memory, chunk by chunk, with
// bit-identical results. It starts at the first such GEMM (or at startHelper()), and backs off by itself
// when waiting for it costs more than it saves (a busy machine); training turns it off unless it was given
// more than one thread.
import { readFileSync } from "node:fs";
import os from "node:os";
import v8 from "node:v8";
import { isMainThread, Worker } from "node:worker_threads";
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
  /**
   * Allow (true) or forbid the helper thread that splits large few-row NT GEMMs (sampling's
   * matrix-vector products) with this thread. Default: allowed on the main thread of a machine with ≥ 2
   * cores; training forbids it unless it was given more than one thread (and the data-parallel trainer
   * while its workers hold the other cores).
   */
  setHelper(on: boolean): void;
  startHelper(): Promise<void>;
}

// A few-row NT GEMM (M ≤ HELPER_MAX_M) over at least HELPER_MIN_WEIGHTS elements of B goes half to the
// helper thread: it is bound by streaming B from memory, and two cores stream twice as fast.
const HELPER_MAX_M = 8;
const HELPER_MIN_WEIGHTS = 1 << 18; // 1 MiB of float32 weights
const HELPER_CHUNKS = 8; // row chunks per GEMM, claimed one at a time by either thread
const CTL_WORDS = 32;

/** The kernel module's exports (pointers are byte offsets into the memory). */
interface Exports {
  SCRATCH_BYTES: WebAssembly.Global;
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
  gru_fwd(h: number, gates: number, gx: number, gh: number, hPrev: number, B: number, H: number): void;
  gru_bwd(dgx: number, dgh: number, dhPrev: number, dh: number, gates: number, gh: number, hPrev: number, B: number, H: number, dh2: number): void;
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

  // ---- helper thread (main thread only, started at the first GEMM that wants it) ----------------------
  // Control words (Int32Array [CTL_WORDS] in this memory): [0] job generation, [1] command (1 gemm_nt,
  // 2 exit), [2..12] gemm_nt arguments (c, ldc, a, lda, b, ldb, M, N, K, acc, bias), [13] rows per chunk,
  // [14] 1 once the helper runs, [15] claim word (generation · 256 + next chunk), [16] chunks done,
  // [17] chunk count. Both threads claim chunks with compareExchange; this thread then waits for the
  // chunks the helper claimed. Chunks are multiples of 6 rows (gemm_nt's single-row tile), so every row goes
  // through the same code path as unsplit: results are bit-identical with or without the helper.
  let helperOn = isMainThread && (os.availableParallelism?.() ?? os.cpus().length) >= 2;
  let helper: { worker: Worker; ctl: Int32Array } | null = null;
  let helperGen = 0;
  let helperStrikes = 0; // consecutive jobs where waiting for the helper cost more than it saved
  let helperPause = 0; // jobs left to run alone
  function startHelper(): { worker: Worker; ctl: Int32Array } | null {
    try {
      const ctlOff = reserve(CTL_WORDS * 4);
      const hws = reserve((ex.SCRATCH_BYTES.value as number) + 256);
      const ctl = new Int32Array(memory.buffer, ctlOff, CTL_WORDS);
      const worker = new Worker(new URL("./helper.mjs", import.meta.url), {
        workerData: { module: kernelModule(relaxed), memory, ctl: ctlOff, ws: hws },
      });
      worker.unref();
      worker.on("error", () => { helperOn = false; });
      return { worker, ctl };
    } catch {
      helperOn = false;
      return null;
    }
  }
  /** the NT GEMM in row chunks shared with the helper; false when there is no running helper */
  function splitNT(c: number, a: number, b: number, M: number, N: number, K: number, acc: number, bias: number): boolean {
    if (!helper) helper = startHelper();
    if (!helper || Atomics.load(helper.ctl, 14) !== 1) return false; // not running yet: all rows here
    const ctl = helper.ctl;
    const R = Math.max(6, Math.ceil(N / HELPER_CHUNKS / 6) * 6), n = Math.ceil(N / R);
    const gen = (helperGen = (helperGen + 1) & 0xffffff);
    ctl[1] = 1;
    ctl[2] = c; ctl[3] = N; ctl[4] = a; ctl[5] = K; ctl[6] = b; ctl[7] = K; ctl[8] = M; ctl[9] = N; ctl[10] = K; ctl[11] = acc; ctl[12] = bias;
    ctl[13] = R; ctl[17] = n;
    Atomics.store(ctl, 16, 0);
    Atomics.store(ctl, 15, gen * 256);
    Atomics.store(ctl, 0, gen);
    Atomics.notify(ctl, 0);
    let mine = 0;
    const t0 = performance.now();
    for (;;) {
      const v = Atomics.load(ctl, 15), chunk = v & 255;
      if (chunk >= n) break;
      if (Atomics.compareExchange(ctl, 15, v, v + 1) !== v) continue;
      const r0 = chunk * R;
      ex.gemm_nt(c + r0 * 4, N, a, K, b + r0 * K * 4, K, M, Math.min(R, N - r0), K, acc, ws, bias ? bias + r0 * 4 : 0);
      mine++;
    }
    // wait for the helper's chunks: poll briefly, then sleep (it notifies after each chunk)
    const want = n - mine, t1 = performance.now();
    for (let i = 0; i < 2000 && Atomics.load(ctl, 16) < want; i++);
    for (let d = Atomics.load(ctl, 16); d < want; d = Atomics.load(ctl, 16)) {
      if (Atomics.wait(ctl, 16, d, 1000) === "timed-out" && Atomics.load(ctl, 16) === d && helper.worker.threadId < 0) {
        throw new Error("the WebAssembly kernels' helper thread died");
      }
    }
    // on a busy machine the helper may hold a chunk while it waits for a core: when waiting for it keeps
    // costing more than its chunks save, work alone for a while
    const waited = performance.now() - t1, perChunk = (t1 - t0) / Math.max(mine, 1);
    helperStrikes = waited > want * perChunk ? helperStrikes + 1 : 0;
    if (helperStrikes >= 8) {
      helperStrikes = 0;
      helperPause = 2000;
    }
    return true;
  }
  function gemmNT(c: number, a: number, b: number, M: number, N: number, K: number, acc: number, bias: number): void {
    if (helperOn && M <= HELPER_MAX_M && N >= 12 && N * K >= HELPER_MIN_WEIGHTS) {
      if (helperPause > 0) helperPause--;
      else if (splitNT(c, a, b, M, N, K, acc, bias)) return;
    }
    ex.gemm_nt(c, N, a, K, b, K, M, N, K, acc, ws, bias);
  }

  return {
    name: relaxed ? "wasm-relaxed-simd" : "wasm-simd",
    relaxed,
    memory,
    alloc,
    async startHelper() {
      if (!helperOn) return;
      if (!helper) helper = startHelper();
      const t0 = Date.now();
      while (helper && helperOn && Atomics.load(helper.ctl, 14) !== 1 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 2));
    },
    setHelper(on: boolean) {
      helperOn = on && isMainThread;
      if (!on && helper) {
        Atomics.store(helper.ctl, 1, 2);
        Atomics.add(helper.ctl, 0, 1);
        Atomics.notify(helper.ctl, 0);
        helper = null;
      }
    },

    gemmNN(C, A, B, M, N, K, acc) {
      ex.gemm_nn(f32("C", C, M * N), N, f32("A", A, M * K), K, f32("B", B, K * N), N, M, N, K, acc ? 1 : 0, ws);
    },
    gemmNT(C, A, B, M, N, K, acc) {
      gemmNT(f32("C", C, M * N), f32("A", A, M * K), f32("B", B, N * K), M, N, K, acc ? 1 : 0, 0);
    },
    gemmNTBias(C, A, B, bias, M, N, K) {
      gemmNT(f32("C", C, M * N), f32("A", A, M * K), f32("B", B, N * K), M, N, K, 0, f32("bias", bias, N));
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
    transpose(dst, src, R, C, acc) {
      ex.transpose(f32("dst", dst, R * C), f32("src", src, R * C), R, C, acc ? 1 : 0);
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
    gruCellForward(h, gates, gx, gh, hPrev, B, H) {
      const n = B * H;
      ex.gru_fwd(f32("h", h, n), f32("gates", gates, 3 * n), f32("gx", gx, 3 * n), f32("gh", gh, 3 * n), f32("hPrev", hPrev, n), B, H);
    },
    gruCellBackward(dgx, dgh, dhPrev, dh, gates, gh, hPrev, B, H, dh2) {
      const n = B * H;
      ex.gru_bwd(f32("dgx", dgx, 3 * n), f32("dgh", dgh, 3 * n), f32("dhPrev", dhPrev, n), f32("dh", dh, n), f32("gates", gates, 3 * n),
        f32("gh", gh, 3 * n), f32("hPrev", hPrev, n), B, H, dh2 ? f32("dh2", dh2, n) : 0);
    },

    softmaxXent(dLogits, logits, targets, N, V, scale) {
      const d = dLogits ? f32("dLogits", dLogits, N * V) : 0;
      const l = f32("logits", logits, N * V);
      if (N <= 0) return 0;
      return ex.softmax_xent(d, l, indices("targets", targets, N, -0x80000000, V), N, V, scale);
    },
  };
}
