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
  /**
   * Optional: start the backend's helper thread now and resolve once it runs (the WASM backend shares
   * large single-row GEMMs, i.e. sampling's matrix-vector products, with it). Without this call the helper
   * starts at the first such GEMM, but can only begin once the caller yields to the event loop.
   */
  startHelper?(): Promise<void>;
  /** Optional: allow (default where there are ≥ 2 cores) or forbid that helper thread. */
  setHelper?(on: boolean): void;

  // ---- GEMM, three layouts -------------------------------------------------------------------------
  /** C[M×N] (= or +=) A[M×K] · B[K×N] */
  gemmNN(C: Arr, A: Arr, B: Arr, M: number, N: number, K: number, acc: boolean): void;
  /** C[M×N] (= or +=) A[M×K] · B[N×K]ᵀ */
  gemmNT(C: Arr, A: Arr, B: Arr, M: number, N: number, K: number, acc: boolean): void;
  /** C[M×N] = A[M×K] · B[N×K]ᵀ + bias[N] on every row (exactly addBias then an accumulating gemmNT) */
  gemmNTBias(C: Arr, A: Arr, B: Arr, bias: Arr, M: number, N: number, K: number): void;
  /** C[M×N] += A[K×M]ᵀ · B[K×N]   (weight gradients: one GEMM over all T·B rows) */
  gemmTNAcc(C: Arr, A: Arr, B: Arr, M: number, N: number, K: number): void;

  // ---- a right-hand side packed once, for many GEMMs against it (weights, packed once per optimizer step) --
  /** elements a packed [K×N] right-hand side takes (allocate Bp with alloc(packedSize(K, N))) */
  packedSize(K: number, N: number): number;
  /** Bp = B[K×N] (trans = false) or B[N×K]ᵀ (trans = true), in the layout gemmNNPacked reads */
  packB(Bp: Arr, B: Arr, K: number, N: number, trans: boolean): void;
  /** C[M×N] (= or +=) A[M×K] · B, B given packed by packB */
  gemmNNPacked(C: Arr, A: Arr, Bp: Arr, M: number, N: number, K: number, acc: boolean): void;

  // ---- small helpers -------------------------------------------------------------------------------
  /** out[N×C] = table[idx[n]] rows (a one-hot "matmul" done as a gather) ; acc: += instead of = */
  gatherRows(out: Arr, table: Arr, idx: Int32Array, N: number, C: number, acc: boolean): void;
  /** dTable[idx[n]] += dOut[n]   dTable [R×C], dOut [N×C] */
  scatterAddRows(dTable: Arr, dOut: Arr, idx: Int32Array, N: number, C: number): void;
  /** out[N×C] (= or +=) broadcast b[C] */
  addBias(out: Arr, b: Arr, N: number, C: number, acc: boolean): void;
  /** db[C] += Σ_n d[n×C] */
  biasBackward(db: Arr, d: Arr, N: number, C: number): void;

  /** dst[C×R] (= or +=) src[R×C]ᵀ */
  transpose(dst: Arr, src: Arr, R: number, C: number, acc: boolean): void;

  // ---- whole-slab vector operations (gradient reduction, clipping, optimizer) ---------------------------
  /** y[n] += x[n] */
  addTo(y: Arr, x: Arr, n: number): void;
  /** x[n] *= s  (the WASM kernel multiplies by s rounded to float32, like torch's clip_grad_norm_) */
  scale(x: Arr, s: number, n: number): void;
  /** Σ x[i]², accumulated in float64 */
  sumSquares(x: Arr, n: number): number;
  /**
   * One Adam update of n parameters, torch.optim.Adam's arithmetic (see src/train/optim.ts):
   * g ← g + wd·p; m ← b1·m + (1−b1)·g; v ← b2·v + (1−b2)·g²; p ← p − stepSize · m / (√v / bc2Sqrt + eps),
   * with stepSize = lr / (1 − b1^t), bc2Sqrt = √(1 − b2^t). g is read, not changed.
   */
  adam(p: Arr, m: Arr, v: Arr, g: Arr, n: number, stepSize: number, b1: number, b2: number, bc2Sqrt: number, eps: number, wd: number): void;

  // ---- fused cells, one time step over B rows (see src/model/cells.ts for the math) ---------------------
  /**
   * h[B×H] = act(pre[B×H]); relu when relu=true, else tanh. With pre2 [B×H], the pre-activation is
   * pre + pre2, written back to pre (the recurrent product computed into a small buffer of its own, so
   * the GEMM never reads the large, cold pre-activation buffer); likewise gh in lstmCellForward.
   */
  rnnCellForward(h: Arr, pre: Arr, B: number, H: number, relu: boolean, pre2?: Arr | null): void;
  /**
   * dPre[B×H] = dh[B×H] ⊙ act'(h)  (overwrites dPre). With dh2 [B×H], the gradient is dh + dh2 (the part
   * from above plus the part carried from step t+1), summed in the kernel; likewise in the other backward
   * cells.
   */
  rnnCellBackward(dPre: Arr, dh: Arr, h: Arr, B: number, H: number, relu: boolean, dh2?: Arr | null): void;

  /**
   * gates[B×4H]: in: pre-activations (i,f,g,o) (+ gh[B×4H] when given), out: activations σ(i),σ(f),tanh(g),σ(o) (in place).
   * c[B×H] = f⊙cPrev + i⊙g ;  h[B×H] = o⊙tanh(c)
   */
  lstmCellForward(h: Arr, c: Arr, gates: Arr, cPrev: Arr, B: number, H: number, gh?: Arr | null): void;
  /**
   * dGates[B×4H] = ∂L/∂(pre-activations) (overwritten). dc[B×H]: in: ∂L/∂c_t from step t+1,
   * out: ∂L/∂c_{t-1} (overwritten in place). dh[B×H]: total ∂L/∂h_t.
   */
  lstmCellBackward(dGates: Arr, dc: Arr, dh: Arr, gates: Arr, c: Arr, cPrev: Arr, B: number, H: number, dh2?: Arr | null): void;

  /**
   * gx[B×3H] = x·W_ihᵀ + b_ih, gh[B×3H] = h_{t-1}·W_hhᵀ + b_hh (both r,z,n).
   * gates[B×3H] out: r, z, n activations. h[B×H] = (1−z)⊙n + z⊙hPrev.
   */
  gruCellForward(h: Arr, gates: Arr, gx: Arr, gh: Arr, hPrev: Arr, B: number, H: number): void;
  /**
   * dgx[B×3H], dgh[B×3H] overwritten; dhPrev[B×H] += dh⊙z (the direct path; the W_hh path is a GEMM).
   * dhPrev must not alias dh2.
   */
  gruCellBackward(dgx: Arr, dgh: Arr, dhPrev: Arr, dh: Arr, gates: Arr, gh: Arr, hPrev: Arr, B: number, H: number, dh2?: Arr | null): void;

  // ---- loss ---------------------------------------------------------------------------------------
  /**
   * Softmax cross-entropy over N rows of V logits. Returns Σ_n −log p[n, target[n]] over rows whose
   * target ≥ 0 (a negative target is not scored). If dLogits is given, writes
   * dLogits[N×V] = scale · (softmax(logits) − onehot(target)) (zero rows for unscored targets).
   */
  softmaxXent(dLogits: Arr | null, logits: Arr, targets: Int32Array, N: number, V: number, scale: number): number;
}
