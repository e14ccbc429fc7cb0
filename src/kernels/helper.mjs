// A helper thread for the WebAssembly kernels (see wasm.ts, "helper thread"): shares the row chunks of
// large few-row NT GEMMs (sampling's matrix-vector products) with the thread that posts them. Chunks are
// claimed one at a time, so when this thread is slow to wake (or the machine is busy) the poster simply
// does more of them itself. Plain JavaScript (no TypeScript loader), so it starts in milliseconds.
//
// Control words: Int32Array [CTL_WORDS] in the shared memory at workerData.ctl (layout in wasm.ts).
import { workerData } from "node:worker_threads";

const { module, memory, ctl: ctlOffset, ws } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(memory.buffer, ctlOffset, 32);
const GEN = 0, CMD = 1, ARGS = 2, ROWS = 13, READY = 14, CLAIM = 15, DONE = 16, CHUNKS = 17;
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
  if (Atomics.load(ctl, CMD) === 2) break;
  // claim chunks of job `gen` until none is left (CLAIM = job · 256 + next chunk); a failed exchange means
  // the poster claimed meanwhile, or already moved on to a later job
  for (;;) {
    const v = Atomics.load(ctl, CLAIM);
    if (v >>> 8 !== (gen & 0xffffff)) break;
    const chunk = v & 255;
    // the arguments are read after CLAIM, and are the job's as long as the exchange below succeeds
    const c = ctl[ARGS], a = ctl[ARGS + 2], b = ctl[ARGS + 4], M = ctl[ARGS + 6], N = ctl[ARGS + 7], K = ctl[ARGS + 8];
    const acc = ctl[ARGS + 9], bias = ctl[ARGS + 10], R = ctl[ROWS], n = ctl[CHUNKS];
    if (chunk >= n) break;
    if (Atomics.compareExchange(ctl, CLAIM, v, v + 1) !== v) continue;
    const r0 = chunk * R, rows = Math.min(R, N - r0);
    ex.gemm_nt(c + r0 * 4, N, a, K, b + r0 * K * 4, K, M, rows, K, acc, ws, bias ? bias + r0 * 4 : 0);
    Atomics.add(ctl, DONE, 1);
    Atomics.notify(ctl, DONE);
  }
}
