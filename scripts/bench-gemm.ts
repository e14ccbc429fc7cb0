// GEMM throughput, one thread: the reference kernels vs the WebAssembly ones (plain SIMD and, when the
// runtime has it, relaxed SIMD), for [32×1024]·[1024×2048] in the three layouts and for the shapes a
// char-RNN really runs (H = 512, B = 50 streams, N = T·B = 2500 rows, V = 65; with --all also the shapes
// of the other bench workloads, and the per-thread halves B = 25 of two-thread training).
//   npx tsx scripts/bench-gemm.ts [--ms 300] [--no-ref] [--cpu] [--all] [--peak]
// --cpu: divide by this process's CPU time instead of wall time (a loaded machine then still measures the
// kernel, not the share of a core it got).
// --peak: first measure the machine's 128-bit SIMD ceiling: 12 independent multiply-add chains in a loop,
// compiled on the spot with AssemblyScript (a devDependency), the roofline the GEMMs are held against.
// Each number is the best of a few timed trials (the machine may be shared: compare within one run).
import { refF32 } from "../src/kernels/ref.ts";
import type { Arr, Kernels } from "../src/kernels/types.ts";
import { createWasmKernels, relaxedSimdSupported } from "../src/kernels/wasm.ts";

type Layout = "NN" | "NT" | "TN" | "NNp"; // NNp: NN against a B packed once (K.packB), as the backward steps run
interface Shape { label: string; layout: Layout; M: number; N: number; K: number; acc: boolean }

const args = process.argv.slice(2);
const trialMs = Number(args[args.indexOf("--ms") + 1]) || 300;
const withRef = !args.includes("--no-ref");
const cpuTime = args.includes("--cpu");
const all = args.includes("--all");
const peak = args.includes("--peak");
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
if (all) {
  // per-step and whole-chunk shapes of P1 (LSTM H 128, B 50) and P4 (GRU H 256, B 32), and B halved
  for (const [name, h, g, b, t] of [["P1", 128, 4, 50, 50], ["P2", 512, 4, 50, 50], ["P4", 256, 3, 32, 64]] as const) {
    for (const bb of name === "P2" ? [b / 2] : [b, b / 2]) {
      const n = bb * t;
      shapes.push(
        { label: `${name} B${bb} step h·W_hhᵀ`, layout: "NT", M: bb, N: g * h, K: h, acc: true },
        { label: `${name} B${bb} step dG·W_hh`, layout: "NNp", M: bb, N: h, K: g * h, acc: false },
        { label: `${name} B${bb} input proj`, layout: "NT", M: n, N: g * h, K: h, acc: true },
        { label: `${name} B${bb} dX`, layout: "NN", M: n, N: h, K: g * h, acc: false },
        { label: `${name} B${bb} weight grad`, layout: "TN", M: g * h, N: h, K: n, acc: true },
      );
    }
  }
}

function run(Kn: Kernels, s: Shape, C: Arr, A: Arr, Bm: Arr): void {
  if (s.layout === "NNp") Kn.gemmNNPacked(C, A, Bm, s.M, s.N, s.K, s.acc);
  else if (s.layout === "NN") Kn.gemmNN(C, A, Bm, s.M, s.N, s.K, s.acc);
  else if (s.layout === "NT") Kn.gemmNT(C, A, Bm, s.M, s.N, s.K, s.acc);
  else Kn.gemmTNAcc(C, A, Bm, s.M, s.N, s.K);
}

/** best GFLOP/s over a few trials of ≥ trialMs each */
function gflops(Kn: Kernels, s: Shape): number {
  const A = Kn.alloc(s.M * s.K), C = Kn.alloc(s.M * s.N);
  let Bm = Kn.alloc(s.N * s.K);
  for (let i = 0; i < A.length; i++) A[i] = Math.sin(i) * 0.5;
  for (let i = 0; i < Bm.length; i++) Bm[i] = Math.cos(i) * 0.5;
  if (s.layout === "NNp") {
    const packed = Kn.alloc(Kn.packedSize(s.K, s.N));
    Kn.packB(packed, Bm, s.K, s.N, false);
    Bm = packed;
  }
  const flop = 2 * s.M * s.N * s.K;
  run(Kn, s, C, A, Bm); // warm up (and tier up)
  let best = 0;
  for (let trial = 0; trial < 3; trial++) {
    let reps = 0;
    const t0 = performance.now(), c0 = process.cpuUsage();
    let t = 0;
    do {
      run(Kn, s, C, A, Bm);
      reps++;
      t = performance.now() - t0;
    } while (t < trialMs);
    // CPU time of this (single-threaded) process: robust to other processes sharing the cores
    if (cpuTime) {
      const c = process.cpuUsage(c0);
      t = (c.user + c.system) / 1000;
    }
    best = Math.max(best, (flop * reps) / (t * 1e6));
    if (!C.every(Number.isFinite)) throw new Error("non-finite GEMM output");
  }
  return best;
}

const backends: Kernels[] = [createWasmKernels({ relaxed: false })];
if (relaxedSimdSupported()) backends.push(createWasmKernels({ relaxed: true }));
if (withRef) backends.unshift(refF32);

const cols = backends.map((k) => k.name.padStart(18)).join("");

/** GFLOP/s of 12 independent f32x4 multiply-add chains (the SIMD ceiling of one core), per build */
async function simdPeak(relaxed: boolean): Promise<number | null> {
  let asc: typeof import("assemblyscript/asc");
  try {
    asc = await import("assemblyscript/asc");
  } catch {
    return null;
  }
  const madd = relaxed ? "f32x4.relaxed_madd(@, m, c)" : "f32x4.add(f32x4.mul(@, m), c)";
  const chains = Array.from({ length: 12 }, (_, i) => i);
  const src = `export function peak(n: i32, s: f32): f32 {
    const m = f32x4.splat(0.999999), c = f32x4.splat(1e-7);
    ${chains.map((i) => `let a${i} = f32x4.splat(s + ${i});`).join(" ")}
    for (let i = 0; i < n; i++) { ${chains.map((i) => `a${i} = ${madd.replace("@", `a${i}`)};`).join(" ")} }
    return f32x4.extract_lane(${chains.map((i) => `a${i}`).reduce((x, y) => `f32x4.add(${x}, ${y})`)}, 0);
  }`;
  let bytes: Uint8Array | null = null;
  const { error } = await asc.main(["peak.ts", "--enable", "simd", ...(relaxed ? ["--enable", "relaxed-simd"] : []), "-O3", "--runtime", "stub", "--outFile", "peak.wasm"], {
    readFile: (name: string) => (name === "peak.ts" ? src : null),
    writeFile: (name: string, contents: Uint8Array) => { if (name.endsWith(".wasm")) bytes = contents; },
    listFiles: () => [],
    stdout: { write: () => true }, stderr: { write: () => true },
  } as never);
  if (error || !bytes) return null;
  const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { abort() {} } }).exports as { peak(n: number, s: number): number };
  const n = 2e6, flop = n * 12 * 8;
  // V8 compiles the optimised code in the background and a running call never switches to it: warm up with
  // short calls, yield so the compile can land, and keep the best of many trials
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 50; i++) ex.peak(1e4, 1);
    await new Promise((r) => setTimeout(r, 20));
  }
  let best = 0;
  for (let trial = 0; trial < 8; trial++) {
    const t0 = performance.now(), c0 = process.cpuUsage();
    ex.peak(n, 1);
    let t = performance.now() - t0;
    if (cpuTime) {
      const c = process.cpuUsage(c0);
      t = (c.user + c.system) / 1000;
    }
    best = Math.max(best, flop / (t * 1e6));
  }
  return best;
}

if (peak) {
  for (const k of backends) {
    if (k === refF32) continue;
    const p = await simdPeak((k as { relaxed?: boolean }).relaxed === true);
    console.log(`SIMD ceiling (12 multiply-add chains), ${k.name}: ${p === null ? "unavailable (no assemblyscript)" : `${p.toFixed(1)} GFLOP/s`}`);
  }
}
console.log(`GFLOP/s, one thread (node ${process.version}${cpuTime ? ", per CPU-second" : ""})`);
console.log(`${"shape".padEnd(34)}${"layout".padEnd(7)}${"M×N×K".padEnd(18)}${cols}`);
for (const s of shapes) {
  const cells = backends.map((k) => {
    if (k === refF32 && 2 * s.M * s.N * s.K > REF_MAX_FLOP) return "-".padStart(18);
    return gflops(k, s).toFixed(1).padStart(18);
  });
  console.log(`${s.label.padEnd(34)}${s.layout.padEnd(7)}${`${s.M}×${s.N}×${s.K}`.padEnd(18)}${cells.join("")}`);
}
