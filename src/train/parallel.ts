// Data-parallel training on worker_threads over one shared WebAssembly memory.
//
// The B streams are split into `threads` contiguous parts. The calling thread runs part 0 itself; each
// worker runs one other part, forward and backward over the whole chunk, into its own gradient slab. The
// parameters, and what pack() derives from them, live once in shared memory: workers read them in place.
// Per chunk there is one synchronisation: the main thread bumps a generation counter and notifies,
// computes its own part, waits for the workers' done-counter, then adds their gradient slabs to its own
// (in worker order, so results are deterministic for a given thread count). With an Adam step
// (src/train/step.ts) that reduction, the clipping and the update are spread instead: two more rounds in
// which every thread sums the slabs over its own slice of the slab (same order per element), then clips
// and updates that slice. With --ortho-opt cayley, the retraction of the recurrent blocks after the update is
// spread too: thread i retracts blocks i, i + threads, … (src/train/cayley.ts retractShare). Nothing is copied
// per step but gradients, and nothing is allocated per step.
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import type { TrainConfig } from "../config.ts";
import type { Batcher } from "../corpus/batches.ts";
import type { Arr, Kernels } from "../kernels/types.ts";
import { cellOf } from "../model/cells/index.ts";
import type { Model } from "../model/model.ts";
import type { Rng } from "../rng.ts";
import { type ChunkDropBuffers, createChunkDrop, drawChunkDrop } from "../model/dropout.ts";
import { chunkDropRates, createLocalEngine, drawsStreamMasks, type Engine, packState, unpackState } from "./engine.ts";
import { adam, type AdamScalars, slot } from "./optim.ts";

/** Control words (Int32Array over a SharedArrayBuffer; optSlab is a byte offset, read back as unsigned). */
export const CTRL = { gen: 0, cmd: 1, chunk: 2, done: 3, seed: 4, error: 5, optSlab: 6, kept: 7, size: 8 } as const;
export const CMD = { run: 1, reset: 2, exit: 3, reduce: 4, adam: 5, cayley: 6 } as const;

/** Slice i of n of a slab of P elements: [lo, hi), boundaries on 16 elements (64 bytes). */
export function slabSlice(P: number, n: number, i: number): [number, number] {
  const at = (k: number) => (k >= n ? P : Math.min(P, Math.round((k * P) / n / 16) * 16));
  return [at(i), at(i + 1)];
}

/**
 * One thread's share of a spread Adam step: its slice g of the summed gradient scaled by coef (clipping;
 * 1 = none), then Adam on the matching slices of the parameters p and the state m, v.
 */
export function updateSlice(ops: Kernels, s: { p: Arr; m: Arr; v: Arr; g: Arr }, coef: number, a: AdamScalars): void {
  if (coef < 1) ops.scale(s.g, coef, s.g.length);
  adam(ops, s.p, s.m, s.v, s.g, a);
}

/** What a worker needs to see the model and its part of the data (sent once, at start). */
export interface WorkerInit {
  memory: WebAssembly.Memory;
  cfg: TrainConfig;
  params: { offset: number; length: number };
  bsum: { offset: number; length: number }[];
  whhP: { offset: number; length: number }[];
  wihT: { offset: number; length: number } | null;
  /** the masks every thread's chunk shares (--weight-drop, --embed-dropout), drawn by the main thread; null when none */
  chunkDrop: { whh: { mask: Span; whh: Span; whhP: Span }[]; rows: Span | null } | null;
  /** the running statistics (batch norm; the worker's forward passes do not update them) */
  stats: { offset: number; length: number };
  /** the worker's streams as their own text: streams b0…b0+nb−1 of the training split */
  ids: Uint16Array | Uint32Array;
  nb: number;
  b0: number;
  ctrl: Int32Array;
  /** [threads × 2] loss sum and count per part */
  results: Float64Array;
  /** [threads] Σ g² over each thread's slice (reduce) */
  sumsq: Float64Array;
  /** [threads] byte offsets of every part's gradient slab (main's first), filled once all workers are up */
  slabs: Uint32Array;
  /** Adam's scalars for CMD.adam: coef (clipping), stepSize, b1, b2, bc2Sqrt, eps, wd, decay (AdamW) */
  hyper: Float64Array;
  index: number;
  /** where the worker posts the text of an exception (read with receiveMessageOnPort) */
  errors: MessagePort;
}

/** What a worker reports back once its buffers exist. */
export interface WorkerReady {
  grads: { offset: number; length: number };
  h: number[];
  c: number[];
}

/** Splits B streams into n contiguous parts, sizes differing by at most one. */
export function splitStreams(B: number, n: number): { b0: number; nb: number }[] {
  const parts: { b0: number; nb: number }[] = [];
  let b0 = 0;
  for (let i = 0; i < n; i++) {
    const nb = Math.floor(B / n) + (i < B % n ? 1 : 0);
    parts.push({ b0, nb });
    b0 += nb;
  }
  return parts;
}

type Span = { offset: number; length: number };
const span = (a: Arr): Span => ({ offset: a.byteOffset, length: a.length });
const spansOf = (b: ChunkDropBuffers) => ({ whh: b.whh.map((l) => ({ mask: span(l.mask), whh: span(l.whh), whhP: span(l.whhP) })), rows: b.rows ? span(b.rows) : null });

export async function createParallelEngine(model: Model, cfg: TrainConfig, batcher: Batcher, train: Uint16Array | Uint32Array, threads: number): Promise<Engine> {
  const ops = model.ops, memory = ops.shared?.memory;
  if (!memory) throw new Error("parallel training needs the WebAssembly kernels (shared memory)");
  // batch norm takes each shard's statistics: every shard has at least 2 streams (norm.ts)
  const n = Math.max(1, Math.min(threads, Math.floor(cfg.batch / (cellOf(cfg.model).norm?.minStreams ?? 1))));
  const parts = splitStreams(cfg.batch, n);
  if (n === 1) return createLocalEngine(model, cfg, batcher, parts[0]);
  // the chunk masks all threads share: drawn by this thread before each chunk's command
  const chunkDrop = createChunkDrop(model, chunkDropRates(cfg));
  const local = createLocalEngine(model, cfg, batcher, parts[0], { chunk: chunkDrop });
  // the workers hold the other cores: no kernel helper thread on this one meanwhile
  ops.setHelper(false);
  const ctrl = new Int32Array(new SharedArrayBuffer(CTRL.size * 4));
  const results = new Float64Array(new SharedArrayBuffer(n * 2 * 8));
  const sumsq = new Float64Array(new SharedArrayBuffer(n * 8));
  const slabs = new Uint32Array(new SharedArrayBuffer(n * 4));
  const hyper = new Float64Array(new SharedArrayBuffer(8 * 8));
  const H = cfg.model.hidden, B = cfg.batch;
  const streamLen = batcher.streamLen;
  const workers: Worker[] = [];
  const errorPorts: MessagePort[] = [];
  const ready: Promise<WorkerReady>[] = [];
  for (let w = 1; w < n; w++) {
    const { b0, nb } = parts[w];
    // the worker's streams, as a text of their own (nb streams of streamLen, plus the last target); a corpus
    // on a SharedArrayBuffer (readCorpus makes one) is shared with the worker in place, anything else is copied
    const shared = train.buffer instanceof SharedArrayBuffer;
    const [from, to] = [b0 * streamLen, (b0 + nb) * streamLen + 1];
    const ids = shared ? train.subarray(from, to) : train.slice(from, to);
    const { port1, port2 } = new MessageChannel();
    errorPorts.push(port1);
    const init: WorkerInit = {
      memory, cfg, ctrl, results, sumsq, slabs, hyper, index: w, b0, nb, ids, errors: port2,
      params: span(model.params.data),
      bsum: model.layers.map((l) => span(l.bsum)),
      whhP: model.layers.map((l) => span(l.whhP)),
      wihT: model.wihT ? span(model.wihT) : null,
      chunkDrop: chunkDrop ? spansOf(chunkDrop.buffers) : null,
      stats: span(model.stats.data),
    };
    const worker = new Worker(new URL("./worker-boot.mjs", import.meta.url), { workerData: init, transferList: shared ? [port2] : [ids.buffer as ArrayBuffer, port2] });
    workers.push(worker);
    ready.push(new Promise((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`training worker ${w} exited (${code}) before starting`)));
    }));
  }
  const info = await Promise.all(ready);
  for (const wk of workers) wk.removeAllListeners("exit");
  // views of the workers' buffers, made after every worker has allocated (the memory may have grown)
  const buf = memory.buffer;
  const wGrads = info.map((r) => new Float32Array(buf, r.grads.offset, r.grads.length));
  slabs[0] = local.grads.data.byteOffset;
  info.forEach((r, w) => { slabs[w + 1] = r.grads.offset; });
  // this thread's slice (0) of the slab, as views made once
  const P = local.grads.data.length;
  const [lo, hi] = slabSlice(P, n, 0);
  const gMine = local.grads.data.subarray(lo, hi), wMine = wGrads.map((g) => g.subarray(lo, hi));
  const pMine = model.params.data.subarray(lo, hi);
  let mine: { slab: Arr; p: Arr; m: Arr; v: Arr; g: Arr } | null = null;
  const wState = info.map((r, w) => ({
    h: r.h.map((o) => new Float32Array(buf, o, parts[w + 1].nb * H)),
    c: r.c.map((o) => new Float32Array(buf, o, parts[w + 1].nb * H)),
  }));

  const command = (cmd: number, chunk = 0, seed = 0) => {
    Atomics.store(ctrl, CTRL.done, 0);
    Atomics.store(ctrl, CTRL.cmd, cmd);
    Atomics.store(ctrl, CTRL.chunk, chunk);
    Atomics.store(ctrl, CTRL.seed, seed);
    Atomics.add(ctrl, CTRL.gen, 1);
    Atomics.notify(ctrl, CTRL.gen);
  };
  const wait = () => {
    for (;;) {
      const d = Atomics.load(ctrl, CTRL.done);
      if (d >= n - 1) break;
      Atomics.wait(ctrl, CTRL.done, d, 1000);
      if (d === Atomics.load(ctrl, CTRL.done) && workers.some((wk) => wk.threadId < 0)) throw new Error("a training worker thread died");
    }
    const bad = Atomics.load(ctrl, CTRL.error);
    if (bad > 0) {
      const msg = receiveMessageOnPort(errorPorts[bad - 1])?.message;
      throw new Error(`training worker ${bad} failed: ${String(msg ?? "unknown error").split("\n")[0]}`);
    }
  };
  const grads = local.grads;
  return {
    grads,
    chunksPerEpoch: batcher.chunksPerEpoch,
    run(chunk: number, rng: Rng, deferReduce = false) {
      // the masks every thread shares come first, from the main RNG, before any thread reads them; then the
      // workers draw their own streams' masks from a seed the main RNG hands out (so resume stays exact)
      if (chunkDrop) drawChunkDrop(model, chunkDrop, rng);
      const seed = drawsStreamMasks(cfg) ? Math.floor(rng.next() * 2 ** 31) : 0;
      command(CMD.run, chunk, seed);
      const r = local.run(chunk, rng);
      wait();
      let lossSum = r.lossSum, count = r.count;
      const g = grads.data;
      for (let w = 0; w < n - 1; w++) {
        if (!deferReduce) ops.addTo(g, wGrads[w], g.length);
        lossSum += results[2 * (w + 1)];
        count += results[2 * (w + 1) + 1];
      }
      return { lossSum, count };
    },
    reduceGrads() {
      command(CMD.reduce);
      for (const wg of wMine) ops.addTo(gMine, wg, gMine.length);
      sumsq[0] = ops.sumSquares(gMine, gMine.length);
      wait();
      let s = 0;
      for (let i = 0; i < n; i++) s += sumsq[i];
      return s;
    },
    adamUpdate(opt, coef, a) {
      const slab = opt.slab.data;
      if (!mine || mine.slab !== slab) {
        ops.scale(slab, 1, 0); // throws here, before any worker reads it, unless the slab is in this memory
        mine = { slab, p: pMine, m: slot(opt, "exp_avg").subarray(lo, hi), v: slot(opt, "exp_avg_sq").subarray(lo, hi), g: gMine };
      }
      hyper.set([coef, a.stepSize, a.b1, a.b2, a.bc2Sqrt, a.eps, a.wd, a.decay]);
      Atomics.store(ctrl, CTRL.optSlab, slab.byteOffset);
      command(CMD.adam);
      updateSlice(ops, mine, coef, a);
      wait();
    },
    cayleyRetract(kept, step, mine) {
      Atomics.store(ctrl, CTRL.kept, kept.byteOffset);
      command(CMD.cayley, step);
      mine(0, n);
      wait();
    },
    saveState(out) {
      local.saveState(out);
      wState.forEach((s, w) => packState(s, out, B, H, parts[w + 1].b0));
    },
    loadState(from) {
      local.loadState(from);
      wState.forEach((s, w) => unpackState(s, from, B, H, parts[w + 1].b0));
    },
    resetState() {
      local.resetState();
      command(CMD.reset);
      wait();
    },
    async dispose() {
      ops.setHelper(true);
      command(CMD.exit);
      await Promise.all(workers.map((w) => new Promise((res) => w.once("exit", res))));
    },
  };
}
