// GEMM in three layouts over byte offsets into the one linear memory. Leading dimensions (ld*, in
// elements) are explicit so a caller can hand a sub-block to a worker. Shapes are arbitrary.
//
//   NT  C[M×N] (=|+=) A[M×K]·B[N×K]ᵀ   dot-product form: 2 rows of A × 4 rows of B per tile, no packing
//                                       (B rows stream once per row block; M = 1 streams the weights once).
//                                       Short K with many rows: the NN driver over transposing packs of B.
//   NN  C[M×N] (=|+=) A[M×K]·B[K×N]    BLIS-style: pack a kc × nc block of B into NR-column panels and an
//                                       mc × kc block of A into MR-row panels, then run MR×8 broadcast
//                                       micro-kernels (8 accumulators) over every (row panel, column panel).
//   TN  C[M×N] (=|+=) A[K×M]ᵀ·B[K×N]   as NN; only the packing of A differs (its rows are strided).
//   NN packed: B packed once (pack_b) for many calls, e.g. the recurrent weights once per optimizer step.
// Packed A and B keep the inner loop free of address arithmetic: one pointer each, constant offsets (what
// V8 emits per iteration besides the loads and multiply-adds is the loop test and its stack check).
// `ws` is this thread's scratch area (see SCRATCH_BYTES). Pointers and strides are in bytes (suffix b),
// dimensions and leading dimensions in elements.
import { add_bias } from "./misc";
import { hsum4, ld, madd } from "./simd";

// bytes
const F32: usize = 4; // one float
const V128: usize = 16; // one vector: 4 floats

const KC: i32 = 256; // k block
const NC: i32 = 1024; // columns of C per packed B block (kc × nc floats = 1 MiB, in L2)
// rows per A panel. V8 loads everything a loop iteration loads before the (pure) multiply-adds that use it,
// so loads + accumulators must fit its 15 allocatable xmm registers: 4×8 = 6 loads + 8 accumulators
// (6×8 would need 20 and spills).
const MR: i32 = 4;
const MC: i32 = 32 * MR; // rows of A per packed block (mc × kc = 128 KiB, in L2)
const NR: i32 = 16; // columns per B panel (a micro-kernel's width)
const NR_SHIFT: i32 = 4; // log2 NR
const A_STEP: usize = <usize>MR * F32; // bytes of one k of a packed A panel
const B_STEP: usize = <usize>NR * F32; // bytes of one k of a packed B panel (= the row stride of the edge tile)
const HALF_B: usize = B_STEP / 2; // the second 8 columns of a B panel (and of its C tile)
// rows per NT row tile when M = 1: 6 independent multiply-add chains. The helper thread splits such GEMMs
// in chunks of whole tiles (exported, so its row chunks are multiples of it)
export const NT_ROW_TILE: i32 = 6;
// floats of A per NT row block (512 KiB): the block stays in L2 while every B row streams past it
const NT_A_BLOCK: i32 = 131072;
// NT with a short K (few products per dot, so the horizontal sums dominate) and enough rows to amortise a
// transposing pack of B goes through the NN driver instead
const NT_DOT_MIN_K: i32 = 96;
const NT_PACK_MIN_M: i32 = 64;

// scratch layout (bytes)
const TMP: usize = <usize>MR * B_STEP; // one edge tile [MR × NR]
const APACK: usize = <usize>MC * KC * F32; // packed A block
const BPACK: usize = <usize>NC * KC * F32; // packed B block
/** bytes of scratch the GEMMs need (exported so the loader sizes each thread's scratch) */
export const SCRATCH_BYTES: i32 = <i32>(TMP + APACK + BPACK);

// ---- NT: dot-product tiles ---------------------------------------------------------------------------

/** C[i, j..j+w) and, when two, C[i+1, j..j+w): 2 rows of A × up to 4 rows of B, full K */
@inline function ntTile(c: usize, ldc: usize, a0: usize, a1: usize, b0: usize, b1: usize, b2: usize, b3: usize,
  K: i32, w: i32, two: bool, acc: bool, bias: usize, hasBias: bool): void {
  let x0 = f32x4.splat(0), x1 = x0, x2 = x0, x3 = x0, y0 = x0, y1 = x0, y2 = x0, y3 = x0;
  const K4 = K & ~3;
  let o: usize = 0;
  // four k at a time, then the K % 4 tail one k at a time (lanes 1–3 zero). The two loops have the same
  // body: merging them needs the accumulators passed by reference, which AssemblyScript cannot do
  // without spilling them to memory.
  for (let k = 0; k < K4; k += 4) {
    const va = ld(a0 + o, true), vb = ld(a1 + o, true);
    let u = ld(b0 + o, true);
    x0 = madd(va, u, x0); y0 = madd(vb, u, y0);
    u = ld(b1 + o, true);
    x1 = madd(va, u, x1); y1 = madd(vb, u, y1);
    u = ld(b2 + o, true);
    x2 = madd(va, u, x2); y2 = madd(vb, u, y2);
    u = ld(b3 + o, true);
    x3 = madd(va, u, x3); y3 = madd(vb, u, y3);
    o += V128;
  }
  for (let k = K4; k < K; k++) {
    const va = ld(a0 + o, false), vb = ld(a1 + o, false);
    let u = ld(b0 + o, false);
    x0 = madd(va, u, x0); y0 = madd(vb, u, y0);
    u = ld(b1 + o, false);
    x1 = madd(va, u, x1); y1 = madd(vb, u, y1);
    u = ld(b2 + o, false);
    x2 = madd(va, u, x2); y2 = madd(vb, u, y2);
    u = ld(b3 + o, false);
    x3 = madd(va, u, x3); y3 = madd(vb, u, y3);
    o += F32;
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
      if (add) s += load<f32>(src, F32);
      store<f32>(cp, s, F32);
    }
    if (w > 2) {
      s = f32x4.extract_lane(r, 2);
      if (add) s += load<f32>(src, 2 * F32);
      store<f32>(cp, s, 2 * F32);
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
      for (let i = 0; i < M; i++) add_bias(c + <usize>i * ldc * F32, bias, 1, N, false);
      acc = true;
    }
    driver(c, ldc, a, lda, b, ldb, M, N, K, acc, ws, false, true);
    return;
  }
  if (M <= 0 || N <= 0) return;
  if (M == 1) {
    // one row (sampling, batch-1 training): NT_ROW_TILE B rows at a time, then the rest as below
    const j6 = N - N % NT_ROW_TILE;
    if (bias) ntRow6(c, a, b, ldb, j6, K, false, bias, true);
    else ntRow6(c, a, b, ldb, j6, K, acc, 0, false);
    if (j6 == N) return;
    c += <usize>j6 * F32; b += <usize>j6 * ldb * F32; N -= j6;
    if (bias) bias += <usize>j6 * F32;
  }
  if (bias) ntDot(c, ldc, a, lda, b, ldb, M, N, K, false, bias, true);
  else ntDot(c, ldc, a, lda, b, ldb, M, N, K, acc, 0, false);
}

/** c[0..N) (=|+=, or = bias +) a[K] · rows 0..N−1 of B, N a multiple of NT_ROW_TILE (6) */
@inline function ntRow6(c: usize, a: usize, b: usize, ldb: i32, N: i32, K: i32, acc: bool, bias: usize, hasBias: bool): void {
  const ldbb = <usize>ldb * F32, K4 = K & ~3;
  for (let j = 0; j < N; j += NT_ROW_TILE) {
    const b0 = b + <usize>j * ldbb, b1 = b0 + ldbb, b2 = b1 + ldbb, b3 = b2 + ldbb, b4 = b3 + ldbb, b5 = b4 + ldbb;
    let x0 = f32x4.splat(0), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0;
    let o: usize = 0;
    // as in ntTile: four k at a time, then the K % 4 tail
    for (let k = 0; k < K4; k += 4) {
      const va = ld(a + o, true);
      x0 = madd(va, ld(b0 + o, true), x0);
      x1 = madd(va, ld(b1 + o, true), x1);
      x2 = madd(va, ld(b2 + o, true), x2);
      x3 = madd(va, ld(b3 + o, true), x3);
      x4 = madd(va, ld(b4 + o, true), x4);
      x5 = madd(va, ld(b5 + o, true), x5);
      o += V128;
    }
    for (let k = K4; k < K; k++) {
      const va = ld(a + o, false);
      x0 = madd(va, ld(b0 + o, false), x0);
      x1 = madd(va, ld(b1 + o, false), x1);
      x2 = madd(va, ld(b2 + o, false), x2);
      x3 = madd(va, ld(b3 + o, false), x3);
      x4 = madd(va, ld(b4 + o, false), x4);
      x5 = madd(va, ld(b5 + o, false), x5);
      o += F32;
    }
    const cp = c + <usize>j * F32;
    const src = hasBias ? bias + <usize>j * F32 : cp;
    storeRow(cp, hsum4(x0, x1, x2, x3), 4, acc || hasBias, src);
    storeRow(cp + V128, hsum4(x4, x5, x4, x5), 2, acc || hasBias, src + V128);
  }
}

@inline function ntDot(c: usize, ldc: i32, a: usize, lda: i32, b: usize, ldb: i32, M: i32, N: i32, K: i32, acc: bool, bias: usize, hasBias: bool): void {
  const ldcb = <usize>ldc * F32, ldab = <usize>lda * F32, ldbb = <usize>ldb * F32;
  // rows of A per block (even, ≥ 2): about NT_A_BLOCK floats
  const MB: i32 = max(2, (NT_A_BLOCK / max(K, 1)) & ~1);
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
        ntTile(c + <usize>i * ldcb + <usize>j * F32, ldcb, a0, a0 + ldab, b0, b1, b2, b3, K, w, true, acc, bias + <usize>j * F32, hasBias);
      }
      if (i < iEnd) {
        const a0 = a + <usize>i * ldab;
        ntTile(c + <usize>i * ldcb + <usize>j * F32, ldcb, a0, a0, b0, b1, b2, b3, K, w, false, acc, bias + <usize>j * F32, hasBias);
      }
    }
  }
}

// ---- broadcast micro-kernels: packed A panel (MR floats per k) × packed B panel (NR floats per k) ------

/** C[h × 8] (=|+=) rows 0..h−1 of an A panel × 8 columns of a B panel (bp at column 0 or 8); h ≤ MR */
@inline function mk8(ap: usize, bp: usize, kc: i32, cp: usize, ldc: usize, add: bool, h: i32): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const end = ap + <usize>kc * A_STEP;
  while (ap < end) {
    const b0 = v128.load(bp), b1 = v128.load(bp, V128);
    let p = v128.load32_splat(ap);
    c00 = madd(p, b0, c00); c01 = madd(p, b1, c01);
    if (h > 1) { p = v128.load32_splat(ap, F32); c10 = madd(p, b0, c10); c11 = madd(p, b1, c11); }
    if (h > 2) { p = v128.load32_splat(ap, 2 * F32); c20 = madd(p, b0, c20); c21 = madd(p, b1, c21); }
    if (h > 3) { p = v128.load32_splat(ap, 3 * F32); c30 = madd(p, b0, c30); c31 = madd(p, b1, c31); }
    ap += A_STEP; bp += B_STEP;
  }
  out8(cp, c00, c01, add);
  if (h > 1) out8(cp + ldc, c10, c11, add);
  if (h > 2) out8(cp + 2 * ldc, c20, c21, add);
  if (h > 3) out8(cp + 3 * ldc, c30, c31, add);
}

/** C[h × 16] for h ≤ 2 (four accumulators per row keep the multiply-adds independent enough) */
@inline function mk16(ap: usize, bp: usize, kc: i32, cp: usize, ldc: usize, add: bool, h: i32): void {
  let c0 = f32x4.splat(0), c1 = c0, c2 = c0, c3 = c0, d0 = c0, d1 = c0, d2 = c0, d3 = c0;
  const end = ap + <usize>kc * A_STEP;
  while (ap < end) {
    const b0 = v128.load(bp), b1 = v128.load(bp, V128), b2 = v128.load(bp, 2 * V128), b3 = v128.load(bp, 3 * V128);
    let p = v128.load32_splat(ap);
    c0 = madd(p, b0, c0); c1 = madd(p, b1, c1); c2 = madd(p, b2, c2); c3 = madd(p, b3, c3);
    if (h > 1) {
      p = v128.load32_splat(ap, F32);
      d0 = madd(p, b0, d0); d1 = madd(p, b1, d1); d2 = madd(p, b2, d2); d3 = madd(p, b3, d3);
    }
    ap += A_STEP; bp += B_STEP;
  }
  out8(cp, c0, c1, add);
  out8(cp + HALF_B, c2, c3, add);
  if (h > 1) {
    out8(cp + ldc, d0, d1, add);
    out8(cp + ldc + HALF_B, d2, d3, add);
  }
}

/** C[0..8) (=|+=) [x, y] */
@inline function out8(cp: usize, x: v128, y: v128, add: bool): void {
  if (add) {
    x = f32x4.add(x, v128.load(cp));
    y = f32x4.add(y, v128.load(cp, V128));
  }
  v128.store(cp, x);
  v128.store(cp, y, V128);
}

/** C[h × NR] (=|+=) one A panel (h valid rows) × one full-width B panel, C in place (row stride ldc bytes) */
function tile(ap: usize, bp: usize, kc: i32, cp: usize, ldc: usize, h: i32, add: bool): void {
  if (h == 4) { mk8(ap, bp, kc, cp, ldc, add, 4); mk8(ap, bp + HALF_B, kc, cp + HALF_B, ldc, add, 4); }
  else if (h == 3) { mk8(ap, bp, kc, cp, ldc, add, 3); mk8(ap, bp + HALF_B, kc, cp + HALF_B, ldc, add, 3); }
  else if (h == 2) mk16(ap, bp, kc, cp, ldc, add, 2);
  else mk16(ap, bp, kc, cp, ldc, add, 1);
}

// edge tiles (fewer than NR columns) go through a temp tile [h × NR] (row stride B_STEP bytes)
function tileIn(tmp: usize, cp: usize, ldc: usize, h: i32, w: i32, add: bool): void {
  if (!add) return;
  for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) store<f32>(tmp + <usize>r * B_STEP + <usize>q * F32, load<f32>(cp + <usize>r * ldc + <usize>q * F32));
}
function tileOut(tmp: usize, cp: usize, ldc: usize, h: i32, w: i32): void {
  for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) store<f32>(cp + <usize>r * ldc + <usize>q * F32, load<f32>(tmp + <usize>r * B_STEP + <usize>q * F32));
}

/**
 * C[mc × nc] (=|+=) packed A block (mc rows, MR-row panels) × packed B block (nc columns, NR-column panels),
 * both kc deep. Column panel outer (it stays in L1), row panels inner (the A block stays in L2).
 */
function macro(c: usize, ldc: usize, apack: usize, bpack: usize, mc: i32, nc: i32, kc: i32, add: bool, tmp: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const w = min(NR, nc - jr);
    const bp = bpack + <usize>jr * kc * F32;
    for (let ir = 0; ir < mc; ir += MR) {
      const h = min(MR, mc - ir);
      const ap = apack + <usize>ir * kc * F32;
      const cp = c + <usize>ir * ldc + <usize>jr * F32;
      if (w == NR) tile(ap, bp, kc, cp, ldc, h, add);
      else {
        tileIn(tmp, cp, ldc, h, w, add);
        tile(ap, bp, kc, tmp, B_STEP, h, add);
        tileOut(tmp, cp, ldc, h, w);
      }
    }
  }
}

/**
 * Packs an mc × kc block of A into MR-row panels: panel p at dst + p·kc·A_STEP holds, for each k, the MR
 * floats A[p·MR + r][k] (rows past mc are left as they are: the kernels never read them). Element (i, k) of
 * the block is at a + i·rs + k·cs bytes: rs = lda·4, cs = 4 for A (NN); rs = 4, cs = lda·4 for Aᵀ (TN).
 */
function packA(dst: usize, a: usize, rs: usize, cs: usize, mc: i32, kc: i32): void {
  const pstride = <usize>kc * A_STEP;
  if (cs == F32) {
    // rows contiguous in k: row by row, one float per k
    for (let i = 0; i < mc; i++) {
      let d = dst + <usize>(i / MR) * pstride + <usize>(i % MR) * F32;
      let src = a + <usize>i * rs;
      const end = src + <usize>kc * F32;
      while (src < end) { store<f32>(d, load<f32>(src)); d += A_STEP; src += F32; }
    }
  } else {
    // each k is a row of Aᵀ: MR consecutive floats per panel (one vector), the last panel's h < MR one by one
    const full = mc - mc % MR;
    for (let k = 0; k < kc; k++) {
      let d = dst + <usize>k * A_STEP, src = a + <usize>k * cs;
      for (let i = 0; i < full; i += MR) {
        v128.store(d, v128.load(src));
        d += pstride; src += A_STEP;
      }
      for (let r = 0; r < mc - full; r++) store<f32>(d + <usize>r * F32, load<f32>(src + <usize>r * F32));
    }
  }
}

/**
 * Packs B[k][j0 .. j0 + nc) for k < kc (row stride ldb bytes) into NR-column panels, panel p at
 * dst + p·kc·B_STEP, each [kc × NR] with zeros past nc. Reads B row by row (sequential, prefetch-friendly).
 */
function packB(dst: usize, b: usize, ldb: usize, kc: i32, nc: i32): void {
  const full = nc & ~(NR - 1), pstride = <usize>kc * B_STEP;
  for (let k = 0; k < kc; k++) {
    let d = dst + <usize>k * B_STEP, src = b;
    for (let j = 0; j < full; j += NR) {
      v128.store(d, v128.load(src)); v128.store(d, v128.load(src, V128), V128);
      v128.store(d, v128.load(src, 2 * V128), 2 * V128); v128.store(d, v128.load(src, 3 * V128), 3 * V128);
      d += pstride; src += B_STEP;
    }
    if (full < nc) {
      // the last, partial panel: zeros, then the nc − full floats that exist
      v128.store(d, v128.splat<i32>(0)); v128.store(d, v128.splat<i32>(0), V128);
      v128.store(d, v128.splat<i32>(0), 2 * V128); v128.store(d, v128.splat<i32>(0), 3 * V128);
      for (let q = 0; q < nc - full; q++) store<f32>(d + <usize>q * F32, load<f32>(src + <usize>q * F32));
    }
    b += ldb;
  }
}

/** As packB, from B stored transposed: element (k, j) at b + j·ldb + k·4 (NT layout). */
function packBT(dst: usize, b: usize, ldb: usize, kc: i32, nc: i32): void {
  const pstride = <usize>kc * B_STEP;
  for (let j = 0; j < nc; j++) {
    let d = dst + <usize>(j >> NR_SHIFT) * pstride + <usize>(j & (NR - 1)) * F32, src = b + <usize>j * ldb;
    for (let k = 0; k < kc; k++) { store<f32>(d, load<f32>(src)); d += B_STEP; src += F32; }
  }
  const full = nc & ~(NR - 1);
  if (full < nc) {
    // zeros past nc in the last, partial panel
    let d = dst + <usize>(full >> NR_SHIFT) * pstride;
    for (let k = 0; k < kc; k++) {
      for (let q = nc - full; q < NR; q++) store<f32>(d + <usize>q * F32, 0);
      d += B_STEP;
    }
  }
}

function zeroRows(c: usize, ldc: i32, M: i32, N: i32): void {
  for (let i = 0; i < M; i++) memory.fill(c + <usize>i * ldc * F32, 0, <usize>N * F32);
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
  const ldcb = <usize>ldc * F32, ldab = <usize>lda * F32, ldbb = <usize>ldb * F32;
  const tmp = ws, apack = ws + TMP, bpack = apack + APACK;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    const add = acc || pc > 0;
    for (let jc = 0; jc < N; jc += NC) {
      const nc = min(NC, N - jc);
      if (transB) packBT(bpack, b + <usize>jc * ldbb + <usize>pc * F32, ldbb, kc, nc);
      else packB(bpack, b + <usize>pc * ldbb + <usize>jc * F32, ldbb, kc, nc);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min(MC, M - ic);
        if (transA) packA(apack, a + <usize>pc * ldab + <usize>ic * F32, F32, ldab, mc, kc);
        else packA(apack, a + <usize>ic * ldab + <usize>pc * F32, ldab, F32, mc, kc);
        macro(c + <usize>ic * ldcb + <usize>jc * F32, ldcb, apack, bpack, mc, nc, kc, add, tmp);
      }
    }
  }
}

// ---- NN over a B packed once (weights that stay fixed for many calls) ------------------------------
//
// Layout of a packed B[K×N] (or of B[N×K]ᵀ): k blocks of KC rows; block p (rows pc = p·KC …) starts at
// element pc·Np (Np = N rounded up to NR) and holds Np/NR panels [kc × NR], panel q at + q·kc·NR.

/** N rounded up to whole B panels */
@inline function panelCols(N: i32): i32 {
  return (N + (NR - 1)) & ~(NR - 1);
}

/** floats a packed [K×N] needs */
export function packed_size(K: i32, N: i32): i32 {
  return K * panelCols(N);
}

/** dst = pack of B[K×N] (trans = false; row stride ldb) or of B[N×K]ᵀ (trans = true) */
export function pack_b(dst: usize, b: usize, ldb: i32, K: i32, N: i32, trans: bool): void {
  const Np = panelCols(N), ldbb = <usize>ldb * F32;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    const d = dst + <usize>pc * Np * F32;
    if (trans) packBT(d, b + <usize>pc * F32, ldbb, kc, N);
    else packB(d, b + <usize>pc * ldbb, ldbb, kc, N);
  }
}

/** C[M×N] (=|+=) A[M×K] · B, B packed by pack_b */
export function gemm_nn_packed(c: usize, ldc: i32, a: usize, lda: i32, bp: usize, M: i32, N: i32, K: i32, acc: bool, ws: usize): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) { if (!acc) zeroRows(c, ldc, M, N); return; }
  const ldcb = <usize>ldc * F32, ldab = <usize>lda * F32, Np = panelCols(N);
  const tmp = ws, apack = ws + TMP;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    const add = acc || pc > 0;
    const blk = bp + <usize>pc * Np * F32;
    for (let ic = 0; ic < M; ic += MC) {
      const mc = min(MC, M - ic);
      packA(apack, a + <usize>ic * ldab + <usize>pc * F32, ldab, F32, mc, kc);
      macro(c + <usize>ic * ldcb, ldcb, apack, blk, mc, N, kc, add, tmp);
    }
  }
}
