// The orthogonal group O(n), for `--ortho-opt cayley` (src/train/cayley.ts): the Cayley retraction of an
// update, the nearest orthogonal matrix (the polar factor), and how far a matrix is from orthogonal. Plain
// float64 functions over row-major [n × n] matrices, and the retraction's fast path as float32 GEMMs of the
// kernels (cayleySeries, below), run once per optimizer step (or once per run), never per time step; nothing
// here allocates but the scratch makers, prints or reads a config.
//
// The Cayley step (Wen & Yin 2013; Li, Fuxin & Todorovic 2020). W [n × n] orthogonal, U [n × n] the update
// the optimizer would subtract (W − U is the unconstrained step):
//   A = ½ (U Wᵀ − W Uᵀ)                            skew-symmetric
//   Q = (I + A/2)⁻¹ (I − A/2)                       orthogonal (the Cayley transform of a skew matrix)
//   W ← Q W = 2 (I + A/2)⁻¹ W − W                   (I − A/2 = 2I − (I + A/2)): one LU, one solve
// (cayleyRetract, float64); or, the same Q W to float32 rounding, a series of float32 GEMMs (cayleySeries,
// the path training takes; the LU is its fallback for very large steps).
// To first order W ← W − A W = W − ½ (U − W Uᵀ W) = W − P_T(U), where P_T(U) = W skew(WᵀU) is U projected
// on the tangent space of O(n) at W: an update that is already tangent (U = ΩW, Ω skew) is taken at its own
// size, and the part of U that would only change WᵀW is dropped. (With A = U Wᵀ − W Uᵀ, Wen & Yin's A for a
// gradient, the first-order step would be 2·P_T(U); the ½ is Li et al.'s Ŵ − Ŵᵀ for a square W.)
//
// I + A/2 needs no pivoting in exact arithmetic (its symmetric part is I, so every pivot is ≥ 1); the LU
// pivots anyway, as the polar factor's inverse of an arbitrary matrix needs it. The retraction is exactly
// orthogonal in float64 (to ~1e-15), but Q W keeps the deviation of W itself: storing W in float32 adds a
// rounding error at every step, and those add up as a random walk (measured: ‖WᵀW − I‖_max 1.2e-6 after 1000
// steps, 2.3e-6 after 4000, H = 128). newtonSchulzStep removes it; src/train/cayley.ts runs it every
// REORTHOGONALISE_EVERY steps.
import type { Arr, Kernels } from "../kernels/types.ts";
import { gateCount } from "./cells/index.ts";
import type { Model } from "./model.ts";

/** The buffers of one retraction or projection of an [n × n] matrix. */
export interface OrthoScratch {
  n: number;
  /** [n × n] A, then I + A/2 and its LU factors */
  M: Float64Array;
  /** [n × n] the solve's right-hand side, then its solution */
  X: Float64Array;
  /** [n × n] the polar iteration's previous iterate */
  Y: Float64Array;
  /** [n] row permutation of the LU */
  piv: Int32Array;
}

export function orthoScratch(n: number): OrthoScratch {
  return { n, M: new Float64Array(n * n), X: new Float64Array(n * n), Y: new Float64Array(n * n), piv: new Int32Array(n) };
}

/** Every gate block [H × H] of every layer's weight_hh (G = the cell's gate count per layer), as views of the parameters. */
export function recurrentBlocks(m: Model): Arr[] {
  const H = m.cfg.hidden, G = gateCount(m.cfg), HH = H * H;
  return m.layers.flatMap((L) => Array.from({ length: G }, (_, g) => L.whh.subarray(g * HH, (g + 1) * HH)));
}

/**
 * In place: M [n × n] ← d·I + c·(M − Mᵀ) off the diagonal (a skew-symmetric part, plus d on the diagonal): the
 * Cayley step's I + A/2 or A/2 from the product U Wᵀ (c = ¼) or −U Wᵀ (c = −¼).
 */
function skewInPlace(M: Arr, n: number, d: number, c: number): void {
  for (let i = 0; i < n; i++) {
    M[i * n + i] = d;
    for (let j = i + 1; j < n; j++) {
      const a = c * (M[i * n + j] - M[j * n + i]);
      M[i * n + j] = a;
      M[j * n + i] = -a;
    }
  }
}

/**
 * The Cayley retraction (see the header): W [n × n] ← (I + A/2)⁻¹ (I − A/2) W with A = ½(U Wᵀ − W Uᵀ), for U
 * [n × n] the optimizer's update. W is overwritten; U is read.
 */
export function cayleyRetract(W: Float64Array, U: Float64Array, n: number, s: OrthoScratch): void {
  const { M, X, piv } = s;
  mulABt(M, U, W, n); // M = U Wᵀ [n × n]
  skewInPlace(M, n, 1, 0.25); // M ← I + A/2 = I + ¼ (U Wᵀ − (U Wᵀ)ᵀ)
  if (!luFactor(M, piv, n)) throw new Error("cayleyRetract: I + A/2 is singular (A is not finite)");
  X.set(W);
  luSolve(M, piv, X, n, n); // X = (I + A/2)⁻¹ W
  for (let i = 0; i < n * n; i++) W[i] = 2 * X[i] - W[i];
}

/**
 * W [n × n] ← its orthogonal polar factor (W = Q P, P symmetric positive definite): the orthogonal matrix nearest
 * to W in the Frobenius norm. Scaled Newton iteration X ← (ζX + (ζX)⁻ᵀ)/2, ζ = (‖X⁻¹‖_F / ‖X‖_F)^½ (Higham
 * 1986), unscaled once close. Returns false, leaving W as it was, when W is singular (no unique polar factor).
 */
export function polarFactor(W: Float64Array, n: number, s: OrthoScratch): boolean {
  const { M, X, Y, piv } = s;
  Y.set(W); // the iterate
  let scaled = true;
  for (let iter = 0; iter < 100; iter++) {
    M.set(Y);
    if (!luFactor(M, piv, n)) return false;
    X.fill(0);
    for (let i = 0; i < n; i++) X[i * n + i] = 1;
    luSolve(M, piv, X, n, n); // X = Y⁻¹ [n × n]
    let zeta = 1;
    if (scaled) zeta = Math.sqrt(Math.sqrt(sumSq(X) / sumSq(Y)));
    // Y ← (ζ Y + ζ⁻¹ X ᵀ) / 2, and how much it moved
    let moved = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const y = Y[i * n + j], next = 0.5 * (zeta * y + X[j * n + i] / zeta);
        moved += (next - y) ** 2;
        Y[i * n + j] = next;
      }
    }
    const rel = Math.sqrt(moved / sumSq(Y));
    // the step is about the error of the previous iterate: below 1e-9, the new one is exact to rounding
    if (!scaled && rel < 1e-9) break;
    if (rel < 1e-2) scaled = false; // quadratic convergence from here
  }
  W.set(Y);
  return true;
}

/**
 * One Newton–Schulz step towards the orthogonal group: W [n × n] ← W − ½ W (WᵀW − I) = W (3I − WᵀW) / 2. For a W
 * whose ‖WᵀW − I‖ is ε, the result's is O(ε²): a float32-rounded orthogonal matrix comes back orthogonal to
 * float64 precision.
 */
export function newtonSchulzStep(W: Float64Array, n: number, s: OrthoScratch): void {
  const { M, X, Y } = s;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) X[j * n + i] = W[i * n + j]; // X = Wᵀ
  mulABt(M, X, X, n); // M = Wᵀ W
  for (let i = 0; i < n; i++) M[i * n + i] -= 1;
  mulABt(Y, W, M, n); // Y = W (WᵀW − I)  (M is symmetric: M = Mᵀ)
  for (let i = 0; i < n * n; i++) W[i] -= 0.5 * Y[i];
}

/** ‖WᵀW − I‖_max of W [n × n] (any element type), in float64: 0 for an orthogonal matrix. */
export function orthoDeviation(W: ArrayLike<number>, n: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += W[k * n + i] * W[k * n + j];
      worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  return worst;
}

// ---- the same retraction as a series of float32 GEMMs (the fast path) -----------------------------------------
//
// (I + A/2)(I − A/2) = I − A²/4 = I + S with S = Ah Ahᵀ, Ah = A/2 (A is skew: −A² = A Aᵀ), S symmetric and
// positive semidefinite, ‖S‖ = ‖A/2‖². Everything here is a polynomial in A, so the factors commute and
//   Q = (I − A/2)² (I + S)⁻¹ = (I − A − S)(I + S)⁻¹ = I − 2 (Ah + S)(I + S)⁻¹
//   Q W = W + E,  E = −2 (Ah + S) Z,  Z = (I + S)⁻¹ W
// Z by the Neumann iteration Z₀ = W, Z_{j+1} = W − S Z_j (as Y = Z − W, which float32 holds to its own
// precision: Y₁ = −S W, Y_{j+1} = Y₁ − S Y_j), whose error shrinks by ‖S‖ = ‖A/2‖² per GEMM (Li,
// Fuxin & Todorovic's fixed point Y = W − (A/2)(W + Y) shrinks by ‖A/2‖: this one needs half the products).
// For Adam at lr 2e-3, ‖A/2‖ ≈ 0.02–0.05: two products (the least it takes, as the second gives the first
// estimate of ‖S‖). One GEMM for U Wᵀ, one for S, j for Z, one for E: 3 + j GEMMs of n³ multiply-adds, in
// float32 SIMD, instead of ~2⅓ n³ in scalar float64.
//
// Float32 is enough because only the step E is computed, never Q itself: each product's rounding is ~ε₃₂
// relative to ‖A‖ (the size of E), far below the rounding of W to float32 (E ≈ lr, W ≈ 1/√n); W + E is
// added in float64 and rounded once. The iteration stops once its predicted remaining error on W (‖A + 2S‖ ·
// ρ/(1 − ρ) · ‖Z_{j+1} − Z_j‖_max, ρ ≈ ‖S‖ from the ratio of successive steps) is below SERIES_TOL; a large
// step (ρ ≥ SERIES_MAX_RHO, or SERIES_MAX_ITER products without getting there) returns false and the
// caller takes the exact float64 LU (cayleyRetract).

/** Predicted error on an element of Q W (W orthogonal, so |W_ij| ≤ 1) below which the Neumann iteration stops. */
export const SERIES_TOL = 1e-9;
/** Estimated ‖S‖ = ‖A/2‖² at or above which the series gives up (‖A/2‖ ≈ 0.63: a step of a third of a radian). */
export const SERIES_MAX_RHO = 0.4;
/**
 * The most Neumann products before giving up: the float64 LU costs as much as ~30 float32 GEMMs (measured:
 * ~3 ms against 0.1 ms at n = 128, ~0.2 s against 5 ms at n = 512).
 */
export const SERIES_MAX_ITER = 24;

/** The float32 buffers of cayleySeries, from the kernels' allocator (so the GEMMs accept them). */
export interface SeriesScratch {
  n: number;
  /** [n × n] −U Wᵀ, then Ah = A/2, then −(Ah + S) */
  A: Arr;
  /** [n × n] S = Ah Ahᵀ */
  S: Arr;
  /** [n × n] P = −S W (= Y₁), then E/2 */
  P: Arr;
  /** [n × n] two Neumann iterates Y (ping-pong), then Z = W + Y */
  Y0: Arr;
  Y1: Arr;
}

export function seriesScratch(n: number, alloc: (n: number) => Arr): SeriesScratch {
  return { n, A: alloc(n * n), S: alloc(n * n), P: alloc(n * n), Y0: alloc(n * n), Y1: alloc(n * n) };
}

/**
 * The Cayley retraction of cayleyRetract as float32 GEMMs (see above): out [n × n] = Q W for W [n × n] and
 * negU [n × n] = −U, the negated update (what the optimizer leaves in a zeroed block). out may alias negU.
 * Returns false for a step too large for the series, leaving out, W and negU as they were.
 */
export function cayleySeries(ops: Kernels, out: Arr, W: Arr, negU: Arr, n: number, s: SeriesScratch): boolean {
  const { A, S } = s, nn = n * n;
  ops.gemmNT(A, negU, W, n, n, n, false); // A = −U Wᵀ
  skewInPlace(A, n, 0, -0.25); // Ah = A/2 = ¼ (U Wᵀ − W Uᵀ) = −¼ ((−U Wᵀ) − (−U Wᵀ)ᵀ), in place
  ops.gemmNT(S, A, A, n, n, n, false); // S = Ah Ahᵀ = −A²/4
  // Z = (I + S)⁻¹ W = W + Y, Y the small part, kept apart (in float32, W + Y would round Y to W's ulp):
  // Y₁ = P = −S W, Y_{j+1} = P − S Y_j; d_j = ‖Y_{j+1} − Y_j‖_max = ‖S (Y_j − Y_{j−1})‖_max
  const { P } = s;
  ops.gemmNN(P, S, W, n, n, n, false);
  let dPrev = 0;
  for (let k = 0; k < nn; k++) {
    P[k] = -P[k];
    dPrev = Math.max(dPrev, Math.abs(P[k]));
  }
  let y = P, next = s.Y0, converged = dPrev === 0; // S W = 0: a zero update (to float32)
  for (let j = 1; j < SERIES_MAX_ITER && !converged; j++) {
    ops.gemmNN(next, S, y, n, n, n, false);
    let d = 0;
    for (let k = 0; k < nn; k++) {
      const v = P[k] - next[k];
      d = Math.max(d, Math.abs(v - y[k]));
      next[k] = v;
    }
    y = next;
    next = y === s.Y0 ? s.Y1 : s.Y0;
    // ρ ≈ ‖S‖, the ratio of successive differences (a power iteration); what the rest of the series would
    // still add to Q W: ‖A + 2S‖ ≈ 2√ρ(1 + √ρ), times the tail ρ/(1 − ρ) · d
    const rho = d / dPrev;
    if (d === 0 || 2 * Math.sqrt(rho) * (1 + Math.sqrt(rho)) * rho / (1 - rho) * d <= SERIES_TOL) converged = true;
    else if (rho >= SERIES_MAX_RHO) break;
    dPrev = d;
  }
  if (!converged) return false;
  // Z = W + Y (rounded to float32: its error reaches Q W times ‖A + 2S‖ ≪ 1) into the free buffer; A ← −(Ah + S);
  // E/2 = −(Ah + S) Z into P (read for the last time in making Z); Q W = W + 2 (E/2), added in float64,
  // rounded once
  for (let k = 0; k < nn; k++) next[k] = W[k] + y[k];
  for (let k = 0; k < nn; k++) A[k] = -(A[k] + S[k]);
  ops.gemmNN(P, A, next, n, n, n, false);
  for (let k = 0; k < nn; k++) out[k] = W[k] + 2 * P[k];
  return true;
}


// ---- float64 dense linear algebra --------------------------------------------------------------------------

/** C [n × n] = A [n × n] · B [n × n]ᵀ: dot products of rows, four rows of A by two of B at a time. */
export function mulABt(C: Float64Array, A: Float64Array, B: Float64Array, n: number): void {
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const a0 = i * n, a1 = a0 + n, a2 = a1 + n, a3 = a2 + n;
    let j = 0;
    for (; j + 1 < n; j += 2) {
      const b0 = j * n, b1 = b0 + n;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
      for (let k = 0; k < n; k++) {
        const x0 = B[b0 + k], x1 = B[b1 + k];
        const u0 = A[a0 + k], u1 = A[a1 + k], u2 = A[a2 + k], u3 = A[a3 + k];
        s00 += u0 * x0; s01 += u0 * x1; s10 += u1 * x0; s11 += u1 * x1;
        s20 += u2 * x0; s21 += u2 * x1; s30 += u3 * x0; s31 += u3 * x1;
      }
      C[a0 + j] = s00; C[a0 + j + 1] = s01; C[a1 + j] = s10; C[a1 + j + 1] = s11;
      C[a2 + j] = s20; C[a2 + j + 1] = s21; C[a3 + j] = s30; C[a3 + j + 1] = s31;
    }
    for (; j < n; j++) for (let r = i; r < i + 4; r++) C[r * n + j] = dot(A, r * n, B, j * n, n);
  }
  for (; i < n; i++) for (let j = 0; j < n; j++) C[i * n + j] = dot(A, i * n, B, j * n, n);
}

function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += a[ao + k] * b[bo + k];
  return s;
}

function sumSq(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s;
}

/**
 * LU factorisation with partial pivoting, in place: A [n × n] ← L (unit lower, below the diagonal) and U (on
 * and above it) of P·A, piv [n] the row swapped into place at each step. False when a pivot is 0 or not finite.
 */
export function luFactor(A: Float64Array, piv: Int32Array, n: number): boolean {
  for (let k = 0; k < n; k++) {
    let p = k, best = Math.abs(A[k * n + k]);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(A[i * n + k]);
      if (v > best) { best = v; p = i; }
    }
    if (!(best > 0) || !Number.isFinite(best)) return false;
    piv[k] = p;
    if (p !== k) swapRows(A, k, p, n);
    const rk = k * n, d = A[rk + k];
    for (let i = k + 1; i < n; i++) {
      const ri = i * n, l = (A[ri + k] /= d);
      if (l !== 0) for (let j = k + 1; j < n; j++) A[ri + j] -= l * A[rk + j];
    }
  }
  return true;
}

/** X [n × m] ← A⁻¹ X, from luFactor's LU [n × n] and piv [n] of A: permute, then forward and back substitution by rows. */
export function luSolve(LU: Float64Array, piv: Int32Array, X: Float64Array, n: number, m: number): void {
  for (let k = 0; k < n; k++) if (piv[k] !== k) swapRows(X, k, piv[k], m);
  // L y = P x (unit diagonal): row i −= Σ_{k<i} L_ik row k, four rows k at a time
  for (let i = 1; i < n; i++) subtractRows(LU, X, i, 0, i, n, m);
  // U x = y
  for (let i = n - 1; i >= 0; i--) {
    subtractRows(LU, X, i, i + 1, n, n, m);
    const ri = i * m, d = 1 / LU[i * n + i];
    for (let j = 0; j < m; j++) X[ri + j] *= d;
  }
}

/** X row i [m] −= Σ_{k = from}^{to−1} LU_ik · X row k. */
function subtractRows(LU: Float64Array, X: Float64Array, i: number, from: number, to: number, n: number, m: number): void {
  const li = i * n, ri = i * m;
  let k = from;
  for (; k + 3 < to; k += 4) {
    const c0 = LU[li + k], c1 = LU[li + k + 1], c2 = LU[li + k + 2], c3 = LU[li + k + 3];
    const r0 = k * m, r1 = r0 + m, r2 = r1 + m, r3 = r2 + m;
    for (let j = 0; j < m; j++) X[ri + j] -= c0 * X[r0 + j] + c1 * X[r1 + j] + c2 * X[r2 + j] + c3 * X[r3 + j];
  }
  for (; k < to; k++) {
    const c = LU[li + k], r = k * m;
    if (c !== 0) for (let j = 0; j < m; j++) X[ri + j] -= c * X[r + j];
  }
}

function swapRows(A: Float64Array, a: number, b: number, m: number): void {
  const ra = a * m, rb = b * m;
  for (let j = 0; j < m; j++) {
    const t = A[ra + j];
    A[ra + j] = A[rb + j];
    A[rb + j] = t;
  }
}
