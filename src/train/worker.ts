// A training worker thread (see parallel.ts): sees the model in shared memory, owns its streams'
// workspace, hidden state and gradient slab, and waits on the control words for commands.
import { parentPort, workerData } from "node:worker_threads";
import { makeBatcher } from "../corpus/batches.ts";
import { createWasmKernels } from "../kernels/wasm.ts";
import { attachChunkDrop } from "../model/dropout.ts";
import { attachModel, backward, createState, createWorkspace, forward, resetState } from "../model/model.ts";
import { chunkDropRates, trainForward, workspaceDrops } from "./engine.ts";
import { makeSlab, viewsOf } from "../model/params.ts";
import { makeRng } from "../rng.ts";
import { optimizerSpec } from "./optim.ts";
import { recurrentBlocks } from "../model/orthogonal.ts";
import { keptViews, retractScratch, retractShare } from "./cayley.ts";
import { CMD, CTRL, slabSlice, updateSlice, type WorkerInit, type WorkerReady } from "./parallel.ts";

const init = workerData as WorkerInit;
const { cfg, ctrl, results, sumsq, slabs, hyper, index, nb } = init;
const ops = createWasmKernels({ memory: init.memory });
// views of the shared model, made before this thread allocates anything (memory.buffer is current now)
const buf = init.memory.buffer;
const view = (s: { offset: number; length: number }) => new Float32Array(buf, s.offset, s.length);
const model = attachModel(cfg.model, ops, view(init.params), { bsum: init.bsum.map(view), whhP: init.whhP.map(view), wihT: init.wihT ? view(init.wihT) : null }, view(init.stats));
const cd = init.chunkDrop;
const chunkDrop = cd ? attachChunkDrop(model, chunkDropRates(cfg), { whh: cd.whh.map((l) => ({ mask: view(l.mask), whh: view(l.whh), whhP: view(l.whhP) })), rows: cd.rows ? view(cd.rows) : null }) : null;
const T = cfg.seq;
const batcher = makeBatcher(init.ids, nb, T);
const ws = createWorkspace(model, nb, T, workspaceDrops(cfg));
const state = createState(model, nb);
const grads = makeSlab(model.spec, (n) => ops.alloc(n));
const scale = 1 / (cfg.batch * T);
// --ortho-opt cayley: this thread's buffers for its share of the retraction; the kept blocks' views once the main thread names them
const cayley = cfg.orthoOpt === "cayley" ? { scratch: retractScratch(ops, cfg.model.hidden), blocks: recurrentBlocks(model), kept: null as Float32Array[] | null } : null;
const ready: WorkerReady = {
  grads: { offset: grads.data.byteOffset, length: grads.data.length },
  h: state.h.map((a) => a.byteOffset),
  c: state.c.map((a) => a.byteOffset),
};
/** views of this thread's slice of main's gradient slab, of every other part's slab, and of the parameters */
let sliceViews: { g: Float32Array; parts: Float32Array[]; p: Float32Array } | null = null;
function slice() {
  if (!sliceViews) {
    const P = grads.data.length, [lo, hi] = slabSlice(P, slabs.length, index), mem = init.memory.buffer;
    const at = (off: number) => new Float32Array(mem, off + lo * 4, hi - lo);
    sliceViews = { g: at(slabs[0]), parts: Array.from(slabs.subarray(1), at), p: model.params.data.subarray(lo, hi) as Float32Array };
  }
  return sliceViews;
}

// read the generation BEFORE saying ready: the main thread may issue its first command as soon as it hears
// from us, and a generation read after that would wait for a second command that never comes
let gen = Atomics.load(ctrl, CTRL.gen);
parentPort!.postMessage(ready);

for (;;) {
  Atomics.wait(ctrl, CTRL.gen, gen);
  gen = Atomics.load(ctrl, CTRL.gen);
  const cmd = Atomics.load(ctrl, CTRL.cmd);
  if (cmd === CMD.exit) break;
  try {
    if (cmd === CMD.run) {
      batcher.fill(Atomics.load(ctrl, CTRL.chunk), ws.idx, ws.targets);
      grads.data.fill(0);
      const rng = makeRng((Atomics.load(ctrl, CTRL.seed) + index * 0x9e3779b1) >>> 0);
      // batch norm: this shard's statistics; only the main thread's shard goes into the running estimates
      const r = forward(model, ws, state, { ...trainForward(cfg, rng, scale, chunkDrop), updateStats: false }); // chunkDrop: drawn by the main thread
      backward(model, ws, grads);
      results[2 * index] = r.lossSum;
      results[2 * index + 1] = r.count;
    } else if (cmd === CMD.reset) {
      resetState(state);
    } else if (cmd === CMD.reduce) {
      // this thread's slice of main's slab += every part's slab, in part order (as the main thread would)
      const s = slice();
      for (const wg of s.parts) ops.addTo(s.g, wg, s.g.length);
      sumsq[index] = ops.sumSquares(s.g, s.g.length);
    } else if (cmd === CMD.cayley) {
      const H = cfg.model.hidden, nBlocks = cayley!.blocks.length;
      cayley!.kept ??= keptViews(new Float32Array(init.memory.buffer, Atomics.load(ctrl, CTRL.kept) >>> 0, nBlocks * H * H), nBlocks, H) as Float32Array[];
      retractShare(ops, cayley!.blocks, cayley!.kept, H, Atomics.load(ctrl, CTRL.chunk), index, slabs.length, cayley!.scratch);
    } else if (cmd === CMD.adam) {
      const s = slice();
      const P = grads.data.length, [lo, hi] = slabSlice(P, slabs.length, index);
      const spec = optimizerSpec(cfg, P);
      const opt = viewsOf(spec, new Float32Array(init.memory.buffer, Atomics.load(ctrl, CTRL.optSlab) >>> 0, spec.size));
      const [coef, stepSize, b1, b2, bc2Sqrt, eps, wd, decay] = hyper;
      updateSlice(ops, { p: s.p, m: opt.exp_avg.subarray(lo, hi), v: opt.exp_avg_sq.subarray(lo, hi), g: s.g }, coef, { stepSize, b1, b2, bc2Sqrt, eps, wd, decay });
    }
  } catch (e) {
    // the main thread is blocked in Atomics.wait and cannot see an 'error' event: flag it, and leave the
    // message where receiveMessageOnPort can read it synchronously
    init.errors.postMessage(String((e as Error)?.stack ?? e));
    Atomics.store(ctrl, CTRL.error, index);
  }
  Atomics.add(ctrl, CTRL.done, 1);
  Atomics.notify(ctrl, CTRL.done);
}
