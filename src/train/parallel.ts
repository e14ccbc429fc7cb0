// Data-parallel training on worker_threads over one shared WebAssembly memory.
//
// The B streams are split into `threads` contiguous parts. The calling thread runs part 0 itself; each
// worker runs one other part, forward and backward over the whole chunk, into its own gradient slab. The
// parameters, and what pack() derives from them, live once in shared memory: workers read them in place.
// Per chunk there is exactly one synchronisation: the main thread bumps a generation counter and notifies,
// computes its own part, waits for the workers' done-counter, then adds their gradient slabs to its own
// (in worker order, so results are deterministic for a given thread count). Nothing is copied per step
// but gradients, and nothing is allocated per step.
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import type { TrainConfig } from "../config.ts";
import type { Batcher } from "../data/batches.ts";
import type { Arr } from "../kernels/types.ts";
import type { WasmKernels } from "../kernels/wasm.ts";
import type { Model } from "../model/model.ts";
import type { Rng } from "../rng.ts";
import { createLocalEngine, type Engine, packState, unpackState } from "./engine.ts";

/** Control words (Int32Array over a SharedArrayBuffer). */
export const CTRL = { gen: 0, cmd: 1, chunk: 2, done: 3, seed: 4, error: 5, size: 8 } as const;
export const CMD = { run: 1, reset: 2, exit: 3 } as const;

/** What a worker needs to see the model and its part of the data (sent once, at start). */
export interface WorkerInit {
  memory: WebAssembly.Memory;
  cfg: TrainConfig;
  params: { offset: number; length: number };
  bsum: { offset: number; length: number }[];
  wihT: { offset: number; length: number } | null;
  /** the worker's streams as their own text: streams b0…b0+nb−1 of the training split */
  ids: Uint16Array | Uint32Array;
  nb: number;
  b0: number;
  ctrl: Int32Array;
  /** [threads × 2] loss sum and count per part */
  results: Float64Array;
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

const span = (a: Arr) => ({ offset: a.byteOffset, length: a.length });

export async function createParallelEngine(model: Model, cfg: TrainConfig, batcher: Batcher, train: Uint16Array | Uint32Array, threads: number): Promise<Engine> {
  const K = model.K as WasmKernels;
  if (!K.memory) throw new Error("parallel training needs the WebAssembly kernels (shared memory)");
  const n = Math.max(1, Math.min(threads, cfg.batch));
  const parts = splitStreams(cfg.batch, n);
  const local = createLocalEngine(model, cfg, batcher, parts[0]);
  if (n === 1) return local;
  const ctrl = new Int32Array(new SharedArrayBuffer(CTRL.size * 4));
  const results = new Float64Array(new SharedArrayBuffer(n * 2 * 8));
  const H = cfg.model.hidden, B = cfg.batch;
  const streamLen = batcher.streamLen;
  const workers: Worker[] = [];
  const errorPorts: MessagePort[] = [];
  const ready: Promise<WorkerReady>[] = [];
  for (let w = 1; w < n; w++) {
    const { b0, nb } = parts[w];
    // the worker's streams, as a text of their own (nb streams of streamLen, plus the last target)
    const ids = train.slice(b0 * streamLen, (b0 + nb) * streamLen + 1);
    const { port1, port2 } = new MessageChannel();
    errorPorts.push(port1);
    const init: WorkerInit = {
      memory: K.memory, cfg, ctrl, results, index: w, b0, nb, ids, errors: port2,
      params: span(model.params.data),
      bsum: model.layers.map((l) => span(l.bsum)),
      wihT: model.wihT ? span(model.wihT) : null,
    };
    const worker = new Worker(new URL("./worker-boot.mjs", import.meta.url), { workerData: init, transferList: [ids.buffer as ArrayBuffer, port2] });
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
  const buf = K.memory.buffer;
  const wGrads = info.map((r) => new Float32Array(buf, r.grads.offset, r.grads.length));
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
    run(chunk: number, rng: Rng) {
      // workers draw their dropout masks from a seed the main RNG hands out (so resume stays exact)
      const seed = cfg.dropout > 0 ? Math.floor(rng.next() * 2 ** 31) : 0;
      command(CMD.run, chunk, seed);
      const r = local.run(chunk, rng);
      wait();
      let lossSum = r.lossSum, count = r.count;
      const g = grads.data;
      for (let w = 0; w < n - 1; w++) {
        const wg = wGrads[w];
        for (let i = 0; i < g.length; i++) g[i] += wg[i];
        lossSum += results[2 * (w + 1)];
        count += results[2 * (w + 1) + 1];
      }
      return { lossSum, count };
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
    paramsChanged() {},
    async dispose() {
      command(CMD.exit);
      await Promise.all(workers.map((w) => new Promise((res) => w.once("exit", res))));
    },
  };
}
