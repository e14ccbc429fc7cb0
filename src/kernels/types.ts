// The kernel boundary. Every heavy operation of rnn goes through one `Kernels` object.
//
// Two implementations exist:
//   - `ref.ts`: plain TypeScript, generic over Float32Array and Float64Array (the float64 one drives the
//     gradient check);
//   - `wasm.ts`: WebAssembly SIMD over one shared linear memory (the fast path).
//
// Rules every kernel follows (llm.c style):
//   - pure functions over typed-array views; outputs first, dims last;
//   - matrices are row-major, shapes are written [rows×cols];
//   - "Acc" kernels and every backward kernel that says `+=` accumulate; the rest overwrite;
//   - in-place use is part of the contract: lstmCellBackward's dGates may alias gates, gruCellForward's
//     gates may alias gx, gruCellBackward's dgx may alias gates and dgh may alias gh (each element is read
//     before it is written, per column j);
//   - nothing allocates. All buffers come from `alloc`, once, when a model or trainer is built. The WASM
//     backend requires every array it is handed to live in its own memory, which is why `alloc` belongs to
//     the backend.
//
// Cell gate layouts follow PyTorch and are documented in src/model/cells.ts.

export type Arr = Float32Array | Float64Array;

export interface Kernels {
  /** "ref-f32" | "ref-f64" | "wasm-simd" | "wasm-relaxed-simd" */
  readonly name: string;
  /** Allocates a zeroed array of n elements in this backend's memory. */
  alloc(n: number): Arr;

  // ---- GEMM, three layouts -------------------------------------------------------------------------
  /** C[M×N] (= or +=) A[M×K] · B[K×N] */
  gemmNN(C: Arr, A: Arr, B: Arr, M: number, N: number, K: number, acc: boolean): void;
  /** C[M×N] (= or +=) A[M×K] · B[N×K]ᵀ */
  gemmNT(C: Arr, A: Arr, B: Arr, M: number, N: number, K: number, acc: boolean): void;
  /** C[M×N] += A[K×M]ᵀ · B[K×N]   (weight gradients: one GEMM over all T·B rows) */
  gemmTNAcc(C: Arr, A: Arr, B: Arr, M: number, N: number, K: number): void;

  // ---- small helpers -------------------------------------------------------------------------------
  /** out[N×C] = table[idx[n]] rows (a one-hot "matmul" done as a gather) ; acc: += instead of = */
  gatherRows(out: Arr, table: Arr, idx: Int32Array, N: number, C: number, acc: boolean): void;
  /** dTable[idx[n]] += dOut[n]   dTable [R×C], dOut [N×C] */
  scatterAddRows(dTable: Arr, dOut: Arr, idx: Int32Array, N: number, C: number): void;
  /** out[N×C] (= or +=) broadcast b[C] */
  addBias(out: Arr, b: Arr, N: number, C: number, acc: boolean): void;
  /** db[C] += Σ_n d[n×C] */
  biasBackward(db: Arr, d: Arr, N: number, C: number): void;

  // ---- fused cells, one time step over B rows (see src/model/cells.ts for the math) ---------------------
  /** h[B×H] = act(pre[B×H]); relu when relu=true, else tanh */
  rnnCellForward(h: Arr, pre: Arr, B: number, H: number, relu: boolean): void;
  /** dPre[B×H] = dh[B×H] ⊙ act'(h)  (overwrites dPre) */
  rnnCellBackward(dPre: Arr, dh: Arr, h: Arr, B: number, H: number, relu: boolean): void;

  /**
   * gates[B×4H]: in: pre-activations (i,f,g,o), out: activations σ(i),σ(f),tanh(g),σ(o) (in place).
   * c[B×H] = f⊙cPrev + i⊙g ;  h[B×H] = o⊙tanh(c)
   */
  lstmCellForward(h: Arr, c: Arr, gates: Arr, cPrev: Arr, B: number, H: number): void;
  /**
   * dGates[B×4H] = ∂L/∂(pre-activations) (overwritten). dc[B×H]: in: ∂L/∂c_t from step t+1,
   * out: ∂L/∂c_{t-1} (overwritten in place). dh[B×H]: total ∂L/∂h_t.
   */
  lstmCellBackward(dGates: Arr, dc: Arr, dh: Arr, gates: Arr, c: Arr, cPrev: Arr, B: number, H: number): void;

  /**
   * gx[B×3H] = x·W_ihᵀ + b_ih, gh[B×3H] = h_{t-1}·W_hhᵀ + b_hh (both r,z,n).
   * gates[B×3H] out: r, z, n activations. h[B×H] = (1−z)⊙n + z⊙hPrev.
   */
  gruCellForward(h: Arr, gates: Arr, gx: Arr, gh: Arr, hPrev: Arr, B: number, H: number): void;
  /**
   * dgx[B×3H], dgh[B×3H] overwritten; dhPrev[B×H] += dh⊙z (the direct path; the W_hh path is a GEMM).
   */
  gruCellBackward(dgx: Arr, dgh: Arr, dhPrev: Arr, dh: Arr, gates: Arr, gh: Arr, hPrev: Arr, B: number, H: number): void;

  // ---- loss ---------------------------------------------------------------------------------------
  /**
   * Softmax cross-entropy over N rows of V logits. Returns Σ_n −log p[n, target[n]] over rows whose
   * target ≥ 0 (a negative target is not scored). If dLogits is given, writes
   * dLogits[N×V] = scale · (softmax(logits) − onehot(target)) (zero rows for unscored targets).
   */
  softmaxXent(dLogits: Arr | null, logits: Arr, targets: Int32Array, N: number, V: number, scale: number): number;
}
