// The helper thread, posting side. On the main thread of a machine with ≥ 2 cores, an NT GEMM of at most
// HELPER_MAX_M rows over ≥ 1 MiB of weights (sampling's matrix-vector products: they stream the weights
// from memory, and two cores stream twice as fast) is shared with a worker thread (./helper.mjs) running
// its own instance over the same memory, chunk by chunk (protocol: ./helper-protocol.mjs). Chunks are
// multiples of the module's NT_ROW_TILE rows, so every row goes through the same code path as unsplit: the
// results are bit-identical with or without the helper. It starts at the first such GEMM (or at start()),
// and backs off by itself when waiting for it costs more than it saves (a busy machine); training turns it
// off unless it was given more than one thread.
import os from "node:os";
import { isMainThread, Worker } from "node:worker_threads";
import { CLAIM_SHIFT, CMD_EXIT, CMD_GEMM_NT, CTL, CTL_WORDS, GEN_MASK, runChunk } from "./helper-protocol.mjs";
import type { Exports } from "./wasm-module.ts";
import type { WasmMemory } from "./wasm-memory.ts";

const HELPER_MAX_M = 8;
const HELPER_MIN_WEIGHTS = 1 << 18; // 1 MiB of float32 weights
const HELPER_CHUNKS = 8; // row chunks per GEMM, claimed one at a time by either thread
const CHUNK_MASK = (1 << CLAIM_SHIFT) - 1;

export interface GemmNTHelper {
  /** C = A·Bᵀ (+ C when acc, + bias when bias ≠ 0) with leading dimensions N, K, K: shared with the helper when worth it */
  gemmNT(c: number, a: number, b: number, M: number, N: number, K: number, acc: number, bias: number): void;
  /** start the helper now; resolves once it runs (or at once when it is off) */
  start(): Promise<void>;
  /** allow (only on the main thread) or forbid the helper; forbidding ends a running one */
  set(on: boolean): void;
}

/** gemm_nt of `ex` with this thread's scratch `ws`, over `mem`, and a helper thread running `module`. */
export function createGemmNTHelper(ex: Exports, ws: number, mem: WasmMemory, module: WebAssembly.Module): GemmNTHelper {
  const rowTile = ex.NT_ROW_TILE.value as number;
  let on = isMainThread && (os.availableParallelism?.() ?? os.cpus().length) >= 2;
  let helper: { worker: Worker; ctl: Int32Array } | null = null;
  let gen = 0;
  let strikes = 0; // consecutive jobs where waiting for the helper cost more than it saved
  let pause = 0; // jobs left to run alone

  function launch(): { worker: Worker; ctl: Int32Array } | null {
    try {
      const ctlOff = mem.reserve(CTL_WORDS * 4);
      const hws = mem.reserve((ex.SCRATCH_BYTES.value as number) + 256);
      const ctl = new Int32Array(mem.memory.buffer, ctlOff, CTL_WORDS);
      const worker = new Worker(new URL("./helper.mjs", import.meta.url), {
        workerData: { module, memory: mem.memory, ctl: ctlOff, ws: hws },
      });
      worker.unref();
      worker.on("error", () => { on = false; });
      return { worker, ctl };
    } catch {
      on = false;
      return null;
    }
  }

  /** the NT GEMM in row chunks shared with the helper; false when there is no running helper */
  function split(c: number, a: number, b: number, M: number, N: number, K: number, acc: number, bias: number): boolean {
    if (!helper) helper = launch();
    if (!helper || Atomics.load(helper.ctl, CTL.READY) !== 1) return false; // not running yet: all rows here
    const ctl = helper.ctl;
    const rows = Math.max(rowTile, Math.ceil(N / HELPER_CHUNKS / rowTile) * rowTile), chunks = Math.ceil(N / rows);
    gen = (gen + 1) & GEN_MASK;
    ctl[CTL.CMD] = CMD_GEMM_NT;
    ctl[CTL.C] = c; ctl[CTL.A] = a; ctl[CTL.B] = b; ctl[CTL.M] = M; ctl[CTL.N] = N; ctl[CTL.K] = K; ctl[CTL.ACC] = acc; ctl[CTL.BIAS] = bias;
    ctl[CTL.ROWS] = rows; ctl[CTL.CHUNKS] = chunks;
    Atomics.store(ctl, CTL.DONE, 0);
    Atomics.store(ctl, CTL.CLAIM, gen << CLAIM_SHIFT);
    Atomics.store(ctl, CTL.GEN, gen);
    Atomics.notify(ctl, CTL.GEN);
    let mine = 0;
    const t0 = performance.now();
    for (;;) {
      const v = Atomics.load(ctl, CTL.CLAIM), chunk = v & CHUNK_MASK;
      if (chunk >= chunks) break;
      if (Atomics.compareExchange(ctl, CTL.CLAIM, v, v + 1) !== v) continue;
      runChunk(ex.gemm_nt, ws, c, a, b, M, N, K, acc, bias, rows, chunk);
      mine++;
    }
    // wait for the helper's chunks: poll briefly, then sleep (it notifies after each chunk)
    const want = chunks - mine, t1 = performance.now();
    for (let i = 0; i < 2000 && Atomics.load(ctl, CTL.DONE) < want; i++);
    for (let d = Atomics.load(ctl, CTL.DONE); d < want; d = Atomics.load(ctl, CTL.DONE)) {
      if (Atomics.wait(ctl, CTL.DONE, d, 1000) === "timed-out" && Atomics.load(ctl, CTL.DONE) === d && helper.worker.threadId < 0) {
        throw new Error("the WebAssembly kernels' helper thread died");
      }
    }
    // on a busy machine the helper may hold a chunk while it waits for a core: when waiting for it keeps
    // costing more than its chunks save, work alone for a while
    const waited = performance.now() - t1, perChunk = (t1 - t0) / Math.max(mine, 1);
    strikes = waited > want * perChunk ? strikes + 1 : 0;
    if (strikes >= 8) {
      strikes = 0;
      pause = 2000;
    }
    return true;
  }

  return {
    gemmNT(c, a, b, M, N, K, acc, bias) {
      if (on && M <= HELPER_MAX_M && N >= 2 * rowTile && N * K >= HELPER_MIN_WEIGHTS) {
        if (pause > 0) pause--;
        else if (split(c, a, b, M, N, K, acc, bias)) return;
      }
      ex.gemm_nt(c, N, a, K, b, K, M, N, K, acc, ws, bias);
    },
    async start() {
      if (!on) return;
      if (!helper) helper = launch();
      const t0 = Date.now();
      while (helper && on && Atomics.load(helper.ctl, CTL.READY) !== 1 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 2));
    },
    set(allow: boolean) {
      on = allow && isMainThread;
      if (!allow && helper) {
        Atomics.store(helper.ctl, CTL.CMD, CMD_EXIT);
        Atomics.add(helper.ctl, CTL.GEN, 1);
        Atomics.notify(helper.ctl, CTL.GEN);
        helper = null;
      }
    },
  };
}
