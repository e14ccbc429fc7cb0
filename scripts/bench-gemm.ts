// GEMM throughput, one thread: the reference kernels vs the WebAssembly ones (plain SIMD and, when the
// runtime has it, relaxed SIMD), for [32×1024]·[1024×2048] in the three layouts and for the shapes a
// char-RNN really runs (H = 512, B = 50 streams, N = T·B = 2500 rows, V = 65).
//   npx tsx scripts/bench-gemm.ts [--ms 300] [--no-ref]
// Each number is the best of a few timed trials (the machine may be shared: compare within one run).
import { refF32 } from "../src/kernels/ref.ts";
import type { Arr, Kernels } from "../src/kernels/types.ts";
import { createWasmKernels, relaxedSimdSupported } from "../src/kernels/wasm.ts";

type Layout = "NN" | "NT" | "TN";
interface Shape { label: string; layout: Layout; M: number; N: number; K: number; acc: boolean }

const args = process.argv.slice(2);
const trialMs = Number(args[args.indexOf("--ms") + 1]) || 300;
const withRef = !args.includes("--no-ref");
const REF_MAX_FLOP = 1.5e9; // the reference runs at a few GFLOP/s: skip it on the big shapes

const H = 512, B = 50, N = 2500, V = 65;
const shapes: Shape[] = [
  { label: "square-ish", layout: "NN", M: 32, N: 2048, K: 1024, acc: false },
  { label: "square-ish", layout: "NT", M: 32, N: 2048, K: 1024, acc: false },
  { label: "square-ish", layout: "TN", M: 32, N: 2048, K: 1024, acc: true },
  { label: "input projection  X·W_ihᵀ", layout: "NT", M: N, N: 4 * H, K: H, acc: true },
  { label: "recurrent step  h·W_hhᵀ", layout: "NT", M: B, N: 4 * H, K: H, acc: true },
  { label: "recurrent step H=128", layout: "NT", M: B, N: 4 * 128, K: 128, acc: true },
  { label: "backward step  dG·W_hh", layout: "NN", M: B, N: H, K: 4 * H, acc: false },
  { label: "backward step H=128", layout: "NN", M: B, N: 128, K: 4 * 128, acc: false },
  { label: "dX  dP·W_ih", layout: "NN", M: N, N: H, K: 4 * H, acc: false },
  { label: "weight grad  dPᵀ·H", layout: "TN", M: 4 * H, N: H, K: N, acc: true },
  { label: "decoder  top·W_decᵀ", layout: "NT", M: N, N: V, K: H, acc: true },
  { label: "decoder back  dL·W_dec", layout: "NN", M: N, N: H, K: V, acc: false },
  { label: "decoder grad  dLᵀ·top", layout: "TN", M: V, N: H, K: N, acc: true },
  { label: "sampling (B=1)  h·W_hhᵀ", layout: "NT", M: 1, N: 4 * H, K: H, acc: true },
];

function run(Kn: Kernels, s: Shape, C: Arr, A: Arr, Bm: Arr): void {
  if (s.layout === "NN") Kn.gemmNN(C, A, Bm, s.M, s.N, s.K, s.acc);
  else if (s.layout === "NT") Kn.gemmNT(C, A, Bm, s.M, s.N, s.K, s.acc);
  else Kn.gemmTNAcc(C, A, Bm, s.M, s.N, s.K);
}

/** best GFLOP/s over a few trials of ≥ trialMs each */
function gflops(Kn: Kernels, s: Shape): number {
  const A = Kn.alloc(s.M * s.K), Bm = Kn.alloc(s.N * s.K), C = Kn.alloc(s.M * s.N);
  for (let i = 0; i < A.length; i++) A[i] = Math.sin(i) * 0.5;
  for (let i = 0; i < Bm.length; i++) Bm[i] = Math.cos(i) * 0.5;
  const flop = 2 * s.M * s.N * s.K;
  run(Kn, s, C, A, Bm); // warm up (and tier up)
  let best = 0;
  for (let trial = 0; trial < 3; trial++) {
    let reps = 0;
    const t0 = performance.now();
    let t = 0;
    do {
      run(Kn, s, C, A, Bm);
      reps++;
      t = performance.now() - t0;
    } while (t < trialMs);
    best = Math.max(best, (flop * reps) / (t * 1e6));
    if (!C.every(Number.isFinite)) throw new Error("non-finite GEMM output");
  }
  return best;
}

const backends: Kernels[] = [createWasmKernels({ relaxed: false })];
if (relaxedSimdSupported()) backends.push(createWasmKernels({ relaxed: true }));
if (withRef) backends.unshift(refF32);

const cols = backends.map((k) => k.name.padStart(18)).join("");
console.log(`GFLOP/s, one thread (node ${process.version})`);
console.log(`${"shape".padEnd(34)}${"layout".padEnd(7)}${"M×N×K".padEnd(18)}${cols}`);
for (const s of shapes) {
  const cells = backends.map((k) => {
    if (k === refF32 && 2 * s.M * s.N * s.K > REF_MAX_FLOP) return "-".padStart(18);
    return gflops(k, s).toFixed(1).padStart(18);
  });
  console.log(`${s.label.padEnd(34)}${s.layout.padEnd(7)}${`${s.M}×${s.N}×${s.K}`.padEnd(18)}${cells.join("")}`);
}
