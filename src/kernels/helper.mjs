// A helper thread for the WebAssembly kernels (posting side: wasm-helper.ts): shares the row chunks of
// large few-row NT GEMMs (sampling's matrix-vector products) with the thread that posts them. Chunks are
// claimed one at a time, so when this thread is slow to wake (or the machine is busy) the poster simply
// does more of them itself. Plain JavaScript (no TypeScript loader), so it starts in milliseconds.
//
// The control words at workerData.ctl follow helper-protocol.mjs.
import { workerData } from "node:worker_threads";
import { CLAIM_SHIFT, CMD_EXIT, CTL, CTL_WORDS, GEN_MASK, runChunk } from "./helper-protocol.mjs";

const { GEN, CMD, C, A, B, M, N, K, ACC, BIAS, ROWS, CHUNKS, READY, CLAIM, DONE } = CTL;
const CHUNK_MASK = (1 << CLAIM_SHIFT) - 1;
const { module, memory, ctl: ctlOffset, ws } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(memory.buffer, ctlOffset, CTL_WORDS);
// after a job, poll for the next one this long before sleeping: waking from a sleep costs tens of
// microseconds, and jobs come in bursts (three per sampled character)
const SPIN_MS = 0.2;

let gen = Atomics.load(ctl, GEN);
Atomics.store(ctl, READY, 1);
for (;;) {
  const t0 = performance.now();
  while (Atomics.load(ctl, GEN) === gen) {
    let i = 0;
    while (i < 1000 && Atomics.load(ctl, GEN) === gen) i++;
    if (performance.now() - t0 > SPIN_MS) {
      Atomics.wait(ctl, GEN, gen);
      break;
    }
  }
  gen = Atomics.load(ctl, GEN);
  if (Atomics.load(ctl, CMD) === CMD_EXIT) break;
  // claim chunks of job `gen` until none is left; a failed exchange means the poster claimed meanwhile, or
  // already moved on to a later job
  for (;;) {
    const v = Atomics.load(ctl, CLAIM);
    if (v >>> CLAIM_SHIFT !== (gen & GEN_MASK)) break;
    const chunk = v & CHUNK_MASK;
    // the arguments are read after CLAIM, and are the job's as long as the exchange below succeeds
    const c = ctl[C], a = ctl[A], b = ctl[B], m = ctl[M], n = ctl[N], k = ctl[K];
    const acc = ctl[ACC], bias = ctl[BIAS], rows = ctl[ROWS], chunks = ctl[CHUNKS];
    if (chunk >= chunks) break;
    if (Atomics.compareExchange(ctl, CLAIM, v, v + 1) !== v) continue;
    runChunk(ex.gemm_nt, ws, c, a, b, m, n, k, acc, bias, rows, chunk);
    Atomics.add(ctl, DONE, 1);
    Atomics.notify(ctl, DONE);
  }
}
