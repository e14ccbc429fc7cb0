// The kernel boundary. Every heavy operation of rnn goes through one `Kernels` object, named `ops`
// wherever it is used.
//
// Two implementations exist:
//   - `ref.ts`: plain TypeScript, generic over Float32Array and Float64Array (the float64 one drives the
//     gradient check);
//   - `wasm.ts`: WebAssembly SIMD over one shared linear memory (the fast path).
// Nothing outside src/kernels needs to know which one it holds: what differs between them (shared memory,
// a helper thread) is declared here.
//
// Rules every kernel follows (llm.c style):
//   - pure functions over typed-array views; arguments in the order outputs (in-out arrays among them),
//     inputs, dimensions, then scalars and flags, an optional array last (scale is the one exception:
//     its factor comes before n);
//   - matrices are row-major, shapes are written [rows×cols]; dimension letters: M×N a matrix (for a GEMM
//     C[M×N], with K the inner dimension), B×H one time step of a cell (B rows, H hidden units; the gates
//     take 3H or 4H columns), V the vocabulary, n the elements of a flat array;
//   - accumulation: every output is overwritten (`=`) unless its doc line below says `+=` (always added
//     into) or `(= or +=)` (added into exactly when the trailing `acc` flag is true);
//   - in-place use is part of the contract: lstmCellBackward's (and lstmNoForgetCellBackward's,
//     lstmNormOutBackward's, lstmNormCellBackward's) dGates may alias gates, gruCellForward's
//     gates may alias gx, gruCellBackward's dgx may alias gates and dgh may alias gh (each element is read
//     before it is written, per column j); the normalisations' y may alias x, and their backward's dx may
//     alias dy or xhat (every element of a row, or column, is read before any of it is written);
//   - nothing allocates. All buffers come from `alloc`, once, when a model or trainer is built. The WASM
//     backend requires every array it is handed to live in its own memory, which is why `alloc` belongs to
//     the backend.
//
// Cell gate layouts follow PyTorch: LSTM gates (i, f, g, o), GRU gates (r, z, n), each a block of H
// columns in that order (the LSTM without forget gate: i, g, o); the cells in src/model/ use these kernels one time step at a time.

export type Arr = Float32Array | Float64Array;

/** ε of every normalisation (--norm): 1/σ = 1/√(σ² + ε), as nn.LayerNorm and nn.BatchNorm1d default to. */
export const NORM_EPS = 1e-5;

/** What a backend whose arrays live in one shared memory offers other threads (data-parallel training). */
export interface SharedKernelMemory {
  /**
   * The shared memory every array from `alloc` lives in. A worker thread runs kernels of its own over it
   * (createWasmKernels({ memory })) and finds the arrays it is told about by byte offset.
   */
  readonly memory: WebAssembly.Memory;
}

export interface Kernels {
  /** "ref-f32" | "ref-f64" | "wasm-simd" | "wasm-relaxed-simd" */
  readonly name: string;
  /** The shared-memory capability: non-null where `alloc`'s arrays live in memory other threads can share. */
  readonly shared: SharedKernelMemory | null;
  /** Allocates a zeroed array of n elements in this backend's memory. */
  alloc(n: number): Arr;
  /**
   * Start the backend's helper thread now and resolve once it runs (the WASM backend shares large
   * single-row GEMMs, i.e. sampling's matrix-vector products, with it). Without this call the helper
   * starts at the first such GEMM, but can only begin once the caller yields to the event loop. Resolves
   * at once in a backend without a helper, or with it forbidden.
   */
  startHelper(): Promise<void>;
  /**
   * Allow or forbid that helper thread (default: allowed on the main thread where there are ≥ 2 cores;
   * training forbids it unless it was given more than one thread, and the data-parallel trainer while its
   * workers hold the other cores). No effect in a backend without one.
   */
  setHelper(on: boolean): void;

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

  // ---- rows, biases, transposes --------------------------------------------------------------------
  /** out[M×N] (= or +=) rows idx[0..M) of table[·×N] (a one-hot "matmul" done as a gather) */
  gatherRows(out: Arr, table: Arr, idx: Int32Array, M: number, N: number, acc: boolean): void;
  /** dTable[idx[m]] += dOut[m] for m < M   (dTable [·×N], dOut [M×N]: the gradient of gatherRows) */
  scatterAddRows(dTable: Arr, dOut: Arr, idx: Int32Array, M: number, N: number): void;
  /** out[M×N] (= or +=) bias[N] on every row */
  addBias(out: Arr, bias: Arr, M: number, N: number, acc: boolean): void;
  /** dBias[N] += Σ_m dOut[m]   (dOut [M×N]: the gradient of addBias) */
  biasBackward(dBias: Arr, dOut: Arr, M: number, N: number): void;
  /** dst[N×M] (= or +=) src[M×N]ᵀ */
  transpose(dst: Arr, src: Arr, M: number, N: number, acc: boolean): void;

  // ---- whole-slab vector operations (gradient reduction, clipping, optimizer) ---------------------------
  /** y[n] += x[n] */
  addTo(y: Arr, x: Arr, n: number): void;
  /** x[n] = s · x[n]  (the WASM kernel multiplies by s rounded to float32, like torch's clip_grad_norm_) */
  scale(x: Arr, s: number, n: number): void;
  /** Σ x[i]², accumulated in float64 */
  sumSquares(x: Arr, n: number): number;
  /**
   * One Adam update of n parameters in place (p, m, v), torch.optim.Adam's arithmetic (see
   * src/train/optim.ts): with g' = g + wd·p, m = b1·m + (1−b1)·g'; v = b2·v + (1−b2)·g'²;
   * p = p − stepSize · m / (√v / bc2Sqrt + eps), where stepSize = lr / (1 − b1^t), bc2Sqrt = √(1 − b2^t).
   * g is read, not changed.
   */
  adam(p: Arr, m: Arr, v: Arr, g: Arr, n: number, stepSize: number, b1: number, b2: number, bc2Sqrt: number, eps: number, wd: number): void;

  // ---- fused cells, one time step over B rows ----------------------------------------------------------
  /**
   * h[B×H] = act(pre[B×H]); relu when relu=true, else tanh. With pre2 [B×H], the pre-activation is
   * pre + pre2, written back to pre (the recurrent product computed into a small buffer of its own, so
   * the GEMM never reads the large, cold pre-activation buffer); likewise gh in lstmCellForward.
   */
  rnnCellForward(h: Arr, pre: Arr, B: number, H: number, relu: boolean, pre2?: Arr | null): void;
  /**
   * dPre[B×H] = dh[B×H] ⊙ act'(h). With dh2 [B×H], the gradient is dh + dh2 (the part from above plus the
   * part carried from step t+1), summed in the kernel; likewise in the other backward cells.
   */
  rnnCellBackward(dPre: Arr, dh: Arr, h: Arr, B: number, H: number, relu: boolean, dh2?: Arr | null): void;

  /**
   * gates[B×4H] = σ(i), σ(f), tanh(g), σ(o) of the pre-activations it holds (+ gh[B×4H] when given), in place;
   * c[B×H] = f⊙cPrev + i⊙g ;  h[B×H] = o⊙tanh(c)
   */
  lstmCellForward(h: Arr, c: Arr, gates: Arr, cPrev: Arr, B: number, H: number, gh?: Arr | null): void;
  /**
   * dGates[B×4H] = ∂L/∂(pre-activations). dc[B×H] = ∂L/∂c_{t-1}, in place of the ∂L/∂c_t from step t+1 it
   * holds on entry. dh[B×H]: total ∂L/∂h_t.
   */
  lstmCellBackward(dGates: Arr, dc: Arr, dh: Arr, gates: Arr, c: Arr, cPrev: Arr, B: number, H: number, dh2?: Arr | null): void;

  /**
   * The LSTM without forget gate (f ≡ 1). gates[B×3H] = σ(i), tanh(g), σ(o) of the pre-activations it holds
   * (+ gh[B×3H] when given), in place; c[B×H] = cPrev + i⊙g ;  h[B×H] = o⊙tanh(c)
   */
  lstmNoForgetCellForward(h: Arr, c: Arr, gates: Arr, cPrev: Arr, B: number, H: number, gh?: Arr | null): void;
  /**
   * dGates[B×3H] = ∂L/∂(pre-activations). dc[B×H] = ∂L/∂c_{t-1} (= ∂L/∂c_t: f ≡ 1), in place of the ∂L/∂c_t
   * from step t+1 it holds on entry. dh[B×H]: total ∂L/∂h_t.
   */
  lstmNoForgetCellBackward(dGates: Arr, dc: Arr, dh: Arr, gates: Arr, c: Arr, B: number, H: number, dh2?: Arr | null): void;

  /**
   * Given gx[B×3H] = x·W_ihᵀ + b_ih and gh[B×3H] = h_{t-1}·W_hhᵀ + b_hh (both r,z,n):
   * gates[B×3H] = the r, z, n activations; h[B×H] = (1−z)⊙n + z⊙hPrev.
   */
  gruCellForward(h: Arr, gates: Arr, gx: Arr, gh: Arr, hPrev: Arr, B: number, H: number): void;
  /**
   * dgx[B×3H] = ∂L/∂gx, dgh[B×3H] = ∂L/∂gh; dhPrev[B×H] += dh⊙z (the direct path; the W_hh path is a
   * GEMM). dhPrev must not alias dh2.
   */
  gruCellBackward(dgx: Arr, dgh: Arr, dhPrev: Arr, dh: Arr, gates: Arr, gh: Arr, hPrev: Arr, B: number, H: number, dh2?: Arr | null): void;

  // ---- normalisation (--norm: src/model/norm.ts) --------------------------------------------------------
  /**
   * Layer normalisation of each of M rows of N: μ, σ² the row's mean and biased variance, rstd[M] = 1/√(σ² + ε)
   * (ε = NORM_EPS), xhat[M×N] = (x − μ) · rstd, y[M×N] = γ[N] ⊙ xhat + β[N] (no β when null). y may alias x.
   */
  layerNormForward(y: Arr, xhat: Arr, rstd: Arr, x: Arr, gamma: Arr, beta: Arr | null, M: number, N: number): void;
  /**
   * The gradient of layerNormForward: dgamma[N] += Σ_rows dy ⊙ xhat and dbeta[N] += Σ_rows dy (each unless null);
   * dx[M×N] = rstd · (g − mean_row(g) − xhat ⊙ mean_row(g ⊙ xhat)) with g = γ ⊙ dy. dx may alias dy or xhat.
   */
  layerNormBackward(dx: Arr, dgamma: Arr | null, dbeta: Arr | null, dy: Arr, xhat: Arr, rstd: Arr, gamma: Arr, M: number, N: number): void;

  /**
   * Batch normalisation of each of N columns over the M rows (one step's streams): μ, σ² the column's mean and
   * biased variance, rstd[N] = 1/√(σ² + ε), xhat[M×N] = (x − μ) · rstd, y[M×N] = γ[N] ⊙ xhat + β[N] (no β when
   * null). With runMean, runVar [N] (in-out): runMean = m·μ + (1−m)·runMean, runVar = m·σ²_u + (1−m)·runVar with
   * m = momentum and σ²_u the unbiased variance (M/(M−1)·σ²), as torch's batch_norm in training. y may alias x.
   */
  batchNormForward(y: Arr, xhat: Arr, rstd: Arr, runMean: Arr | null, runVar: Arr | null, x: Arr, gamma: Arr, beta: Arr | null, M: number, N: number, momentum: number): void;
  /**
   * The gradient of batchNormForward: dgamma[N] += Σ_rows dy ⊙ xhat and dbeta[N] += Σ_rows dy (each unless
   * null); dx[M×N] = rstd · (g − mean_col(g) − xhat ⊙ mean_col(g ⊙ xhat)) with g = γ ⊙ dy. dx may alias dy or xhat.
   */
  batchNormBackward(dx: Arr, dgamma: Arr | null, dbeta: Arr | null, dy: Arr, xhat: Arr, rstd: Arr, gamma: Arr, M: number, N: number): void;
  /** Batch normalisation with fixed statistics (evaluation): y[M×N] = γ ⊙ (x − runMean) / √(runVar + ε) + β (no β when null). y may alias x. */
  batchNormInfer(y: Arr, x: Arr, gamma: Arr, beta: Arr | null, runMean: Arr, runVar: Arr, M: number, N: number): void;

  /**
   * The LSTM whose cell state is normalised before its output tanh (--norm), with forget gate (gates i f g o)
   * or without (forget = false: i g o). gates[B×G·H] = the activations of the pre-activations it holds
   * (+ gh[B×G·H] when given), in place; c[B×H] = f⊙cPrev + i⊙g (f ≡ 1 without). h follows c's normalisation:
   */
  lstmNormCellForward(c: Arr, gates: Arr, cPrev: Arr, B: number, H: number, forget: boolean, gh?: Arr | null): void;
  /** tc[B×H] = tanh(tc), in place (on entry γ_c ⊙ N(c) + β_c); h[B×H] = o ⊙ tc (o from gates [B×G·H]) */
  lstmNormOutForward(h: Arr, tc: Arr, gates: Arr, B: number, H: number, forget: boolean): void;
  /**
   * With d = dh (+ dh2): dcn[B×H] = d ⊙ o ⊙ (1 − tc²), the gradient of γ_c ⊙ N(c) + β_c; the o block of
   * dGates[B×G·H] = d ⊙ tc ⊙ o(1−o) (the other blocks untouched).
   */
  lstmNormOutBackward(dGates: Arr, dcn: Arr, dh: Arr, tc: Arr, gates: Arr, B: number, H: number, forget: boolean, dh2?: Arr | null): void;
  /**
   * dc[B×H]: on entry ∂L/∂c_t carried from step t+1, to which dcDirect[B×H] (∂L/∂c_t through h_t, after the
   * normalisation's backward) is added; on exit ∂L/∂c_{t−1}. The i, f, g blocks of dGates[B×G·H] (the o block
   * untouched); cPrev is read only with a forget gate.
   */
  lstmNormCellBackward(dGates: Arr, dc: Arr, dcDirect: Arr, gates: Arr, cPrev: Arr, B: number, H: number, forget: boolean): void;

  // ---- loss ---------------------------------------------------------------------------------------
  /**
   * Softmax cross-entropy over M rows of V logits. Returns Σ_m −log p[m, targets[m]] over rows whose
   * target ≥ 0 (a negative target is not scored). If dLogits is given,
   * dLogits[M×V] = scale · (softmax(logits) − onehot(targets)) (zero rows for unscored targets).
   */
  softmaxXent(dLogits: Arr | null, logits: Arr, targets: Int32Array, M: number, V: number, scale: number): number;
}
