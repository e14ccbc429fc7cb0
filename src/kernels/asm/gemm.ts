// GEMM in three layouts over byte offsets into the one linear memory. Leading dimensions (ld*, in
// elements) are explicit so a caller can hand a sub-block to a worker. Shapes are arbitrary.
//
//   NT  C[M×N] (=|+=) A[M×K]·B[N×K]ᵀ   dot-product form: 2 rows of A × 4 rows of B per tile, no packing
//                                       (B rows stream once per row block; M = 1 streams the weights once).
//                                       Short K with many rows: the NN driver over transposing packs of B.
//   NN  C[M×N] (=|+=) A[M×K]·B[K×N]    BLIS-style: pack a kc × nc block of B into 16-column panels and an
//                                       mc × kc block of A into MR-row panels, then run MR×8 broadcast
//                                       micro-kernels (12 accumulators) over every (row panel, column panel).
//   TN  C[M×N] (=|+=) A[K×M]ᵀ·B[K×N]   as NN; only the packing of A differs (its rows are strided).
//   NN packed: B packed once (pack_b) for many calls, e.g. the recurrent weights once per optimizer step.
// Packed A and B keep the inner loop free of address arithmetic: one pointer each, constant offsets (what
// V8 emits per iteration besides the loads and multiply-adds is the loop test and its stack check).
// `ws` is this thread's scratch area (see SCRATCH_BYTES).
import { add_bias } from "./misc";
import { hsum4, madd } from "./simd";

const KC: i32 = 256; // k block
const NC: i32 = 1024; // columns of C per packed B block (kc × nc floats = 1 MiB, in L2)
// rows per A panel. V8 loads everything a loop iteration loads before the (pure) multiply-adds that use it,
// so loads + accumulators must fit its 15 allocatable xmm registers: 4×8 = 6 loads + 8 accumulators
// (6×8 would need 20 and spills).
const MR: i32 = 4;
const MC: i32 = 32 * MR; // rows of A per packed block (mc × kc = 128 KiB, in L2)
// NT with a short K (few products per dot, so the horizontal sums dominate) and enough rows to amortise a
// transposing pack of B goes through the NN driver instead
const NT_DOT_MIN_K: i32 = 96;
const NT_PACK_MIN_M: i32 = 64;

// scratch layout (bytes)
const TMP: usize = 4 * 16 * 4; // one edge tile [MR × 16]
const APACK: usize = <usize>MC * KC * 4; // packed A block
const BPACK: usize = <usize>NC * KC * 4; // packed B block
/** bytes of scratch the GEMMs need (exported so the loader sizes each thread's scratch) */
export const SCRATCH_BYTES: i32 = <i32>(TMP + APACK + BPACK);

// ---- NT: dot-product tiles ---------------------------------------------------------------------------

/** C[i, j..j+w) and, when two, C[i+1, j..j+w): 2 rows of A × up to 4 rows of B, full K */
@inline function ntTile(c: usize, ldc: usize, a0: usize, a1: usize, b0: usize, b1: usize, b2: usize, b3: usize,
  K: i32, w: i32, two: bool, acc: bool, bias: usize, hasBias: bool): void {
  let x0 = f32x4.splat(0), x1 = x0, x2 = x0, x3 = x0, y0 = x0, y1 = x0, y2 = x0, y3 = x0;
  const K4 = K & ~3;
  let o: usize = 0;
  for (let k = 0; k < K4; k += 4) {
    const va = v128.load(a0 + o), vb = v128.load(a1 + o);
    let u = v128.load(b0 + o);
    x0 = madd(va, u, x0); y0 = madd(vb, u, y0);
    u = v128.load(b1 + o);
    x1 = madd(va, u, x1); y1 = madd(vb, u, y1);
    u = v128.load(b2 + o);
    x2 = madd(va, u, x2); y2 = madd(vb, u, y2);
    u = v128.load(b3 + o);
    x3 = madd(va, u, x3); y3 = madd(vb, u, y3);
    o += 16;
  }
  for (let k = K4; k < K; k++) {
    const va = v128.load32_zero(a0 + o), vb = v128.load32_zero(a1 + o);
    let u = v128.load32_zero(b0 + o);
    x0 = madd(va, u, x0); y0 = madd(vb, u, y0);
    u = v128.load32_zero(b1 + o);
    x1 = madd(va, u, x1); y1 = madd(vb, u, y1);
    u = v128.load32_zero(b2 + o);
    x2 = madd(va, u, x2); y2 = madd(vb, u, y2);
    u = v128.load32_zero(b3 + o);
    x3 = madd(va, u, x3); y3 = madd(vb, u, y3);
    o += 4;
  }
  if (hasBias) {
    storeRow(c, hsum4(x0, x1, x2, x3), w, true, bias);
    if (two) storeRow(c + ldc, hsum4(y0, y1, y2, y3), w, true, bias);
  } else {
    storeRow(c, hsum4(x0, x1, x2, x3), w, acc, c);
    if (two) storeRow(c + ldc, hsum4(y0, y1, y2, y3), w, acc, c + ldc);
  }
}

/** C[0..w) = the first w lanes of r, + src[0..w) when add (src = C itself, or the bias) */
@inline function storeRow(cp: usize, r: v128, w: i32, add: bool, src: usize): void {
  if (w == 4) {
    if (add) r = f32x4.add(r, v128.load(src));
    v128.store(cp, r);
  } else {
    let s = f32x4.extract_lane(r, 0);
    if (add) s += load<f32>(src);
    store<f32>(cp, s);
    if (w > 1) {
      s = f32x4.extract_lane(r, 1);
      if (add) s += load<f32>(src, 4);
      store<f32>(cp, s, 4);
    }
    if (w > 2) {
      s = f32x4.extract_lane(r, 2);
      if (add) s += load<f32>(src, 8);
      store<f32>(cp, s, 8);
    }
  }
}

/**
 * bias ≠ 0 (with acc = false): C = A·Bᵀ + bias[N] broadcast over the rows, bit for bit what add_bias
 * followed by an accumulating gemm_nt gives, without the extra pass over C.
 */
export function gemm_nt(c: usize, ldc: i32, a: usize, lda: i32, b: usize, ldb: i32, M: i32, N: i32, K: i32, acc: bool, ws: usize, bias: usize): void {
  if (K < NT_DOT_MIN_K && M >= NT_PACK_MIN_M) {
    if (bias) {
      for (let i = 0; i < M; i++) add_bias(c + <usize>i * ldc * 4, bias, 1, N, false);
      acc = true;
    }
    driver(c, ldc, a, lda, b, ldb, M, N, K, acc, ws, false, true);
    return;
  }
  if (M <= 0 || N <= 0) return;
  if (M == 1) {
    // one row (sampling, batch-1 training): 6 B rows at a time, so 6 independent multiply-add chains
    const j6 = N - N % 6;
    if (bias) ntRow6(c, a, b, ldb, j6, K, false, bias, true);
    else ntRow6(c, a, b, ldb, j6, K, acc, 0, false);
    if (j6 == N) return;
    c += <usize>j6 * 4; b += <usize>j6 * ldb * 4; N -= j6;
    if (bias) bias += <usize>j6 * 4;
  }
  if (bias) ntDot(c, ldc, a, lda, b, ldb, M, N, K, false, bias, true);
  else ntDot(c, ldc, a, lda, b, ldb, M, N, K, acc, 0, false);
}

/** c[0..N) (=|+=, or = bias +) a[K] · rows 0..N−1 of B, N a multiple of 6 */
@inline function ntRow6(c: usize, a: usize, b: usize, ldb: i32, N: i32, K: i32, acc: bool, bias: usize, hasBias: bool): void {
  const ldbb = <usize>ldb * 4, K4 = K & ~3;
  for (let j = 0; j < N; j += 6) {
    const b0 = b + <usize>j * ldbb, b1 = b0 + ldbb, b2 = b1 + ldbb, b3 = b2 + ldbb, b4 = b3 + ldbb, b5 = b4 + ldbb;
    let x0 = f32x4.splat(0), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0;
    let o: usize = 0;
    for (let k = 0; k < K4; k += 4) {
      const va = v128.load(a + o);
      x0 = madd(va, v128.load(b0 + o), x0);
      x1 = madd(va, v128.load(b1 + o), x1);
      x2 = madd(va, v128.load(b2 + o), x2);
      x3 = madd(va, v128.load(b3 + o), x3);
      x4 = madd(va, v128.load(b4 + o), x4);
      x5 = madd(va, v128.load(b5 + o), x5);
      o += 16;
    }
    for (let k = K4; k < K; k++) {
      const va = v128.load32_zero(a + o);
      x0 = madd(va, v128.load32_zero(b0 + o), x0);
      x1 = madd(va, v128.load32_zero(b1 + o), x1);
      x2 = madd(va, v128.load32_zero(b2 + o), x2);
      x3 = madd(va, v128.load32_zero(b3 + o), x3);
      x4 = madd(va, v128.load32_zero(b4 + o), x4);
      x5 = madd(va, v128.load32_zero(b5 + o), x5);
      o += 4;
    }
    const cp = c + <usize>j * 4;
    const src = hasBias ? bias + <usize>j * 4 : cp;
    storeRow(cp, hsum4(x0, x1, x2, x3), 4, acc || hasBias, src);
    storeRow(cp + 16, hsum4(x4, x5, x4, x5), 2, acc || hasBias, src + 16);
  }
}

@inline function ntDot(c: usize, ldc: i32, a: usize, lda: i32, b: usize, ldb: i32, M: i32, N: i32, K: i32, acc: bool, bias: usize, hasBias: bool): void {
  const ldcb = <usize>ldc * 4, ldab = <usize>lda * 4, ldbb = <usize>ldb * 4;
  // rows of A per block: keep the A block (≈ 512 KB) in L2 while every B row streams past it
  const MB: i32 = max(2, (131072 / max(K, 1)) & ~1);
  for (let ic = 0; ic < M; ic += MB) {
    const iEnd = min(M, ic + MB);
    for (let j = 0; j < N; j += 4) {
      const w = min(4, N - j);
      // missing B rows repeat row j (computed, never stored)
      const b0 = b + <usize>j * ldbb;
      const b1 = w > 1 ? b0 + ldbb : b0;
      const b2 = w > 2 ? b0 + 2 * ldbb : b0;
      const b3 = w > 3 ? b0 + 3 * ldbb : b0;
      let i = ic;
      for (; i + 1 < iEnd; i += 2) {
        const a0 = a + <usize>i * ldab;
        ntTile(c + <usize>i * ldcb + <usize>j * 4, ldcb, a0, a0 + ldab, b0, b1, b2, b3, K, w, true, acc, bias + <usize>j * 4, hasBias);
      }
      if (i < iEnd) {
        const a0 = a + <usize>i * ldab;
        ntTile(c + <usize>i * ldcb + <usize>j * 4, ldcb, a0, a0, b0, b1, b2, b3, K, w, false, acc, bias + <usize>j * 4, hasBias);
      }
    }
  }
}

// ---- broadcast micro-kernels: packed A panel (MR floats per k) × packed B panel (16 floats per k) ------

/** C[h × 8] (=|+=) rows 0..h−1 of an A panel × 8 columns of a B panel (bp at column 0 or 8); h ≤ 6 */
@inline function mk8(ap: usize, bp: usize, kc: i32, cp: usize, ldc: usize, add: bool, h: i32): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  let c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const end = ap + <usize>kc * MR * 4;
  while (ap < end) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16);
    let p = v128.load32_splat(ap);
    c00 = madd(p, b0, c00); c01 = madd(p, b1, c01);
    if (h > 1) { p = v128.load32_splat(ap, 4); c10 = madd(p, b0, c10); c11 = madd(p, b1, c11); }
    if (h > 2) { p = v128.load32_splat(ap, 8); c20 = madd(p, b0, c20); c21 = madd(p, b1, c21); }
    if (h > 3) { p = v128.load32_splat(ap, 12); c30 = madd(p, b0, c30); c31 = madd(p, b1, c31); }
    if (h > 4) { p = v128.load32_splat(ap, 16); c40 = madd(p, b0, c40); c41 = madd(p, b1, c41); }
    if (h > 5) { p = v128.load32_splat(ap, 20); c50 = madd(p, b0, c50); c51 = madd(p, b1, c51); }
    ap += MR * 4; bp += 64;
  }
  out8(cp, c00, c01, add);
  if (h > 1) out8(cp + ldc, c10, c11, add);
  if (h > 2) out8(cp + 2 * ldc, c20, c21, add);
  if (h > 3) out8(cp + 3 * ldc, c30, c31, add);
  if (h > 4) out8(cp + 4 * ldc, c40, c41, add);
  if (h > 5) out8(cp + 5 * ldc, c50, c51, add);
}

/** C[h × 16] for h ≤ 2 (four accumulators per row keep the multiply-adds independent enough) */
@inline function mk16(ap: usize, bp: usize, kc: i32, cp: usize, ldc: usize, add: bool, h: i32): void {
  let c0 = f32x4.splat(0), c1 = c0, c2 = c0, c3 = c0, d0 = c0, d1 = c0, d2 = c0, d3 = c0;
  const end = ap + <usize>kc * MR * 4;
  while (ap < end) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16), b2 = v128.load(bp, 32), b3 = v128.load(bp, 48);
    let p = v128.load32_splat(ap);
    c0 = madd(p, b0, c0); c1 = madd(p, b1, c1); c2 = madd(p, b2, c2); c3 = madd(p, b3, c3);
    if (h > 1) {
      p = v128.load32_splat(ap, 4);
      d0 = madd(p, b0, d0); d1 = madd(p, b1, d1); d2 = madd(p, b2, d2); d3 = madd(p, b3, d3);
    }
    ap += MR * 4; bp += 64;
  }
  out8(cp, c0, c1, add);
  out8(cp + 32, c2, c3, add);
  if (h > 1) {
    out8(cp + ldc, d0, d1, add);
    out8(cp + ldc + 32, d2, d3, add);
  }
}

@inline function out8(cp: usize, x: v128, y: v128, add: bool): void {
  if (add) {
    x = f32x4.add(x, v128.load(cp));
    y = f32x4.add(y, v128.load(cp, 16));
  }
  v128.store(cp, x);
  v128.store(cp, y, 16);
}

/** C[h × 16] (=|+=) one A panel (h valid rows) × one full-width B panel, C in place (row stride ldc bytes) */
function tile(ap: usize, bp: usize, kc: i32, cp: usize, ldc: usize, h: i32, add: bool): void {
  if (h == 4) { mk8(ap, bp, kc, cp, ldc, add, 4); mk8(ap, bp + 32, kc, cp + 32, ldc, add, 4); }
  else if (h == 3) { mk8(ap, bp, kc, cp, ldc, add, 3); mk8(ap, bp + 32, kc, cp + 32, ldc, add, 3); }
  else if (h == 2) mk16(ap, bp, kc, cp, ldc, add, 2);
  else mk16(ap, bp, kc, cp, ldc, add, 1);
}

// edge tiles (fewer than 16 columns) go through a temp tile [h × 16] (row stride 64 bytes)
function tileIn(tmp: usize, cp: usize, ldc: usize, h: i32, w: i32, add: bool): void {
  if (!add) return;
  for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) store<f32>(tmp + <usize>(r * 64 + q * 4), load<f32>(cp + <usize>r * ldc + <usize>q * 4));
}
function tileOut(tmp: usize, cp: usize, ldc: usize, h: i32, w: i32): void {
  for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) store<f32>(cp + <usize>r * ldc + <usize>q * 4, load<f32>(tmp + <usize>(r * 64 + q * 4)));
}

/**
 * C[mc × nc] (=|+=) packed A block (mc rows, MR-row panels) × packed B block (nc columns, 16-column panels),
 * both kc deep. Column panel outer (it stays in L1), row panels inner (the A block stays in L2).
 */
function macro(c: usize, ldc: usize, apack: usize, bpack: usize, mc: i32, nc: i32, kc: i32, add: bool, tmp: usize): void {
  for (let jr = 0; jr < nc; jr += 16) {
    const w = min(16, nc - jr);
    const bp = bpack + <usize>jr * kc * 4;
    for (let ir = 0; ir < mc; ir += MR) {
      const h = min(MR, mc - ir);
      const ap = apack + <usize>ir * kc * 4;
      const cp = c + <usize>ir * ldc + <usize>jr * 4;
      if (w == 16) tile(ap, bp, kc, cp, ldc, h, add);
      else {
        tileIn(tmp, cp, ldc, h, w, add);
        tile(ap, bp, kc, tmp, 64, h, add);
        tileOut(tmp, cp, ldc, h, w);
      }
    }
  }
}

/**
 * Packs an mc × kc block of A into MR-row panels: panel p at dst + p·kc·MR·4 holds, for each k, the MR
 * floats A[p·MR + r][k] (rows past mc are left as they are: the kernels never read them). Element (i, k) of
 * the block is at a + i·rs + k·cs bytes: rs = lda·4, cs = 4 for A (NN); rs = 4, cs = lda·4 for Aᵀ (TN).
 */
function packA(dst: usize, a: usize, rs: usize, cs: usize, mc: i32, kc: i32): void {
  const pstride = <usize>kc * MR * 4;
  if (cs == 4) {
    // rows contiguous in k: row by row, one float per k
    for (let i = 0; i < mc; i++) {
      let d = dst + <usize>(i / MR) * pstride + <usize>(i % MR) * 4;
      let src = a + <usize>i * rs;
      const end = src + <usize>kc * 4;
      while (src < end) { store<f32>(d, load<f32>(src)); d += MR * 4; src += 4; }
    }
  } else {
    // each k is a row of Aᵀ: MR consecutive floats per panel
    const full = mc - mc % MR;
    for (let k = 0; k < kc; k++) {
      let d = dst + <usize>k * MR * 4, src = a + <usize>k * cs;
      for (let i = 0; i < full; i += MR) {
        v128.store(d, v128.load(src));
        d += pstride; src += MR * 4;
      }
      for (let r = 0; r < mc - full; r++) store<f32>(d + <usize>r * 4, load<f32>(src + <usize>r * 4));
    }
  }
}

/**
 * Packs B[k][j0 .. j0 + nc) for k < kc (row stride ldb bytes) into 16-column panels, panel p at
 * dst + p·kc·64, each [kc × 16] with zeros past nc. Reads B row by row (sequential, prefetch-friendly).
 */
function packB(dst: usize, b: usize, ldb: usize, kc: i32, nc: i32): void {
  const full = nc & ~15, pstride = <usize>kc * 64;
  for (let k = 0; k < kc; k++) {
    let d = dst + <usize>k * 64, src = b;
    for (let j = 0; j < full; j += 16) {
      v128.store(d, v128.load(src)); v128.store(d, v128.load(src, 16), 16);
      v128.store(d, v128.load(src, 32), 32); v128.store(d, v128.load(src, 48), 48);
      d += pstride; src += 64;
    }
    if (full < nc) {
      v128.store(d, v128.splat<i32>(0)); v128.store(d, v128.splat<i32>(0), 16);
      v128.store(d, v128.splat<i32>(0), 32); v128.store(d, v128.splat<i32>(0), 48);
      for (let q = 0; q < nc - full; q++) store<f32>(d + <usize>q * 4, load<f32>(src + <usize>q * 4));
    }
    b += ldb;
  }
}

/** As packB, from B stored transposed: element (k, j) at b + j·ldb + k·4 (NT layout). */
function packBT(dst: usize, b: usize, ldb: usize, kc: i32, nc: i32): void {
  const pstride = <usize>kc * 64;
  for (let j = 0; j < nc; j++) {
    let d = dst + <usize>(j >> 4) * pstride + <usize>(j & 15) * 4, src = b + <usize>j * ldb;
    for (let k = 0; k < kc; k++) { store<f32>(d, load<f32>(src)); d += 64; src += 4; }
  }
  const full = nc & ~15;
  if (full < nc) {
    let d = dst + <usize>(full >> 4) * pstride;
    for (let k = 0; k < kc; k++) {
      for (let q = nc - full; q < 16; q++) store<f32>(d + <usize>q * 4, 0);
      d += 64;
    }
  }
}

function zeroRows(c: usize, ldc: i32, M: i32, N: i32): void {
  for (let i = 0; i < M; i++) memory.fill(c + <usize>i * ldc * 4, 0, <usize>N * 4);
}

export function gemm_nn(c: usize, ldc: i32, a: usize, lda: i32, b: usize, ldb: i32, M: i32, N: i32, K: i32, acc: bool, ws: usize): void {
  driver(c, ldc, a, lda, b, ldb, M, N, K, acc, ws, false, false);
}

export function gemm_tn(c: usize, ldc: i32, a: usize, lda: i32, b: usize, ldb: i32, M: i32, N: i32, K: i32, acc: bool, ws: usize): void {
  driver(c, ldc, a, lda, b, ldb, M, N, K, acc, ws, true, false);
}

/**
 * The packed driver. transA: A given as Aᵀ [K×M] (TN); transB: B given as Bᵀ [N×K] (NT through
 * transposing packs).
 */
function driver(c: usize, ldc: i32, a: usize, lda: i32, b: usize, ldb: i32, M: i32, N: i32, K: i32, acc: bool, ws: usize, transA: bool, transB: bool): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) { if (!acc) zeroRows(c, ldc, M, N); return; }
  const ldcb = <usize>ldc * 4, ldab = <usize>lda * 4, ldbb = <usize>ldb * 4;
  const tmp = ws, apack = ws + TMP, bpack = apack + APACK;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    const add = acc || pc > 0;
    for (let jc = 0; jc < N; jc += NC) {
      const nc = min(NC, N - jc);
      if (transB) packBT(bpack, b + <usize>jc * ldbb + <usize>pc * 4, ldbb, kc, nc);
      else packB(bpack, b + <usize>pc * ldbb + <usize>jc * 4, ldbb, kc, nc);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min(MC, M - ic);
        if (transA) packA(apack, a + <usize>pc * ldab + <usize>ic * 4, 4, ldab, mc, kc);
        else packA(apack, a + <usize>ic * ldab + <usize>pc * 4, ldab, 4, mc, kc);
        macro(c + <usize>ic * ldcb + <usize>jc * 4, ldcb, apack, bpack, mc, nc, kc, add, tmp);
      }
    }
  }
}

// ---- NN over a B packed once (weights that stay fixed for many calls) ------------------------------
//
// Layout of a packed B[K×N] (or of B[N×K]ᵀ): k blocks of KC rows; block p (rows pc = p·KC …) starts at
// element pc·Np (Np = N rounded up to 16) and holds Np/16 panels [kc × 16], panel q at + q·kc·16.

/** floats a packed [K×N] needs */
export function packed_size(K: i32, N: i32): i32 {
  return K * ((N + 15) & ~15);
}

/** dst = pack of B[K×N] (trans = false; row stride ldb) or of B[N×K]ᵀ (trans = true) */
export function pack_b(dst: usize, b: usize, ldb: i32, K: i32, N: i32, trans: bool): void {
  const Np = (N + 15) & ~15, ldbb = <usize>ldb * 4;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    const d = dst + <usize>pc * Np * 4;
    if (trans) packBT(d, b + <usize>pc * 4, ldbb, kc, N);
    else packB(d, b + <usize>pc * ldbb, ldbb, kc, N);
  }
}

/** C[M×N] (=|+=) A[M×K] · B, B packed by pack_b */
export function gemm_nn_packed(c: usize, ldc: i32, a: usize, lda: i32, bp: usize, M: i32, N: i32, K: i32, acc: bool, ws: usize): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) { if (!acc) zeroRows(c, ldc, M, N); return; }
  const ldcb = <usize>ldc * 4, ldab = <usize>lda * 4, Np = (N + 15) & ~15;
  const tmp = ws, apack = ws + TMP;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    const add = acc || pc > 0;
    const blk = bp + <usize>pc * Np * 4;
    for (let ic = 0; ic < M; ic += MC) {
      const mc = min(MC, M - ic);
      packA(apack, a + <usize>ic * ldab + <usize>pc * 4, ldab, 4, mc, kc);
      macro(c + <usize>ic * ldcb, ldcb, apack, blk, mc, N, kc, add, tmp);
    }
  }
}
