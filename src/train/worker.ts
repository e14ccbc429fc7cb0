// A training worker thread (see parallel.ts): sees the model in shared memory, owns its streams'
// workspace, hidden state and gradient slab, and waits on the control words for commands.
import { parentPort, workerData } from "node:worker_threads";
import { makeBatcher } from "../data/batches.ts";
import { createWasmKernels } from "../kernels/wasm.ts";
import { attachModel, backward, createState, createWorkspace, forward, resetState } from "../model/model.ts";
import { makeSlab } from "../model/params.ts";
import { makeRng } from "../rng.ts";
import { CMD, CTRL, type WorkerInit, type WorkerReady } from "./parallel.ts";

const init = workerData as WorkerInit;
const { cfg, ctrl, results, index, nb } = init;
const K = createWasmKernels({ memory: init.memory });
// views of the shared model, made before this thread allocates anything (memory.buffer is current now)
const buf = init.memory.buffer;
const view = (s: { offset: number; length: number }) => new Float32Array(buf, s.offset, s.length);
const model = attachModel(cfg.model, K, view(init.params), { bsum: init.bsum.map(view), wihT: init.wihT ? view(init.wihT) : null });
const T = cfg.seq;
const batcher = makeBatcher(init.ids, nb, T);
const ws = createWorkspace(model, nb, T, { dropout: cfg.dropout > 0 });
const state = createState(model, nb);
const grads = makeSlab(model.spec, (n) => K.alloc(n));
const scale = 1 / (cfg.batch * T);
const ready: WorkerReady = {
  grads: { offset: grads.data.byteOffset, length: grads.data.length },
  h: state.h.map((a) => a.byteOffset),
  c: state.c.map((a) => a.byteOffset),
};
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
      const r = forward(model, ws, state, { grad: true, dropout: cfg.dropout, rng, scale });
      backward(model, ws, grads);
      results[2 * index] = r.lossSum;
      results[2 * index + 1] = r.count;
    } else if (cmd === CMD.reset) {
      resetState(state);
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
