// GEMM in three layouts over byte offsets into the one linear memory. Leading dimensions (ld*, in
// elements) are explicit so a caller can hand a sub-block to a worker. Shapes are arbitrary.
//
//   NT  C[M×N] (=|+=) A[M×K]·B[N×K]ᵀ   dot-product form: 2 rows of A × 4 rows of B per tile, no packing
//                                       (B rows stream once per row block; M = 1 streams the weights once).
//                                       Short K with many rows: the NN driver over transposing packs of B.
//   NN  C[M×N] (=|+=) A[M×K]·B[K×N]    BLIS-style: pack a kc × nc block of B into 16-column panels, then
//                                       run every row of A (read in place) over each panel (in L1) with
//                                       4×8 broadcast micro-kernels (1×16 for the last M mod 4 rows).
//   TN  C[M×N] (=|+=) A[K×M]ᵀ·B[K×N]   as NN, but the rows of Aᵀ are strided in memory, so an mc × kc
//                                       block of Aᵀ is packed too (4-row panels).
// `ws` is this thread's scratch area (see SCRATCH_BYTES).
import { hsum4, madd } from "./simd";

const KC: i32 = 256; // k block
const NC: i32 = 1024; // columns of C per packed B block (kc × nc floats = 1 MiB, in L2)
const MC_NN: i32 = 256; // rows of A per block in NN (read in place, mc × kc in L2)
const MC_TN: i32 = 128; // rows of C per packed Aᵀ block in TN
// NT with a short K (few products per dot, so the horizontal sums dominate) and enough rows to amortise a
// transposing pack of B goes through the NN driver instead
const NT_DOT_MIN_K: i32 = 96;
const NT_PACK_MIN_M: i32 = 64;

// scratch layout (bytes)
const TMP: usize = 4 * 16 * 4; // one edge tile [4 × 16]
const APACK: usize = <usize>MC_TN * KC * 4; // packed Aᵀ block
const BPACK: usize = <usize>NC * KC * 4; // packed B block
/** bytes of scratch the GEMMs need (exported so the loader sizes each thread's scratch) */
export const SCRATCH_BYTES: i32 = <i32>(TMP + APACK + BPACK);

// ---- NT: dot-product tiles ---------------------------------------------------------------------------

/** C[i, j..j+w) and, when two, C[i+1, j..j+w): 2 rows of A × up to 4 rows of B, full K */
@inline function ntTile(c: usize, ldc: usize, a0: usize, a1: usize, b0: usize, b1: usize, b2: usize, b3: usize,
  K: i32, w: i32, two: bool, acc: bool): void {
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
  storeRow(c, hsum4(x0, x1, x2, x3), w, acc);
  if (two) storeRow(c + ldc, hsum4(y0, y1, y2, y3), w, acc);
}

/** C[0..w) (=|+=) the first w lanes of r */
@inline function storeRow(cp: usize, r: v128, w: i32, acc: bool): void {
  if (w == 4) {
    if (acc) r = f32x4.add(r, v128.load(cp));
    v128.store(cp, r);
  } else {
    let s = f32x4.extract_lane(r, 0);
    if (acc) s += load<f32>(cp);
    store<f32>(cp, s);
    if (w > 1) {
      s = f32x4.extract_lane(r, 1);
      if (acc) s += load<f32>(cp, 4);
      store<f32>(cp, s, 4);
    }
    if (w > 2) {
      s = f32x4.extract_lane(r, 2);
      if (acc) s += load<f32>(cp, 8);
      store<f32>(cp, s, 8);
    }
  }
}

export function gemm_nt(c: usize, ldc: i32, a: usize, lda: i32, b: usize, ldb: i32, M: i32, N: i32, K: i32, acc: bool, ws: usize): void {
  if (K < NT_DOT_MIN_K && M >= NT_PACK_MIN_M) {
    nnDriver(c, ldc, a, lda, b, ldb, M, N, K, acc, ws, true);
    return;
  }
  if (M <= 0 || N <= 0) return;
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
        ntTile(c + <usize>i * ldcb + <usize>j * 4, ldcb, a0, a0 + ldab, b0, b1, b2, b3, K, w, true, acc);
      }
      if (i < iEnd) {
        const a0 = a + <usize>i * ldab;
        ntTile(c + <usize>i * ldcb + <usize>j * 4, ldcb, a0, a0, b0, b1, b2, b3, K, w, false, acc);
      }
    }
  }
}

// ---- broadcast micro-kernels over a packed B panel (k stride 64 bytes) -----------------------------

/** 4×8 tile, A rows read in place (NN: row r at a + r·lda, k stride 4 bytes) */
@inline function mkN4x8(a: usize, lda: usize, bp: usize, kc: i32, cp: usize, ldc: usize, add: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda;
  let o: usize = 0;
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16);
    let p = v128.load32_splat(a + o);
    c00 = madd(p, b0, c00); c01 = madd(p, b1, c01);
    p = v128.load32_splat(a1 + o);
    c10 = madd(p, b0, c10); c11 = madd(p, b1, c11);
    p = v128.load32_splat(a2 + o);
    c20 = madd(p, b0, c20); c21 = madd(p, b1, c21);
    p = v128.load32_splat(a3 + o);
    c30 = madd(p, b0, c30); c31 = madd(p, b1, c31);
    o += 4; bp += 64;
  }
  store4x8(cp, ldc, add, c00, c01, c10, c11, c20, c21, c30, c31);
}

/** 4×8 tile, A packed (4 floats per k) */
@inline function mkP4x8(ap: usize, bp: usize, kc: i32, cp: usize, ldc: usize, add: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16);
    let p = v128.load32_splat(ap);
    c00 = madd(p, b0, c00); c01 = madd(p, b1, c01);
    p = v128.load32_splat(ap, 4);
    c10 = madd(p, b0, c10); c11 = madd(p, b1, c11);
    p = v128.load32_splat(ap, 8);
    c20 = madd(p, b0, c20); c21 = madd(p, b1, c21);
    p = v128.load32_splat(ap, 12);
    c30 = madd(p, b0, c30); c31 = madd(p, b1, c31);
    ap += 16; bp += 64;
  }
  store4x8(cp, ldc, add, c00, c01, c10, c11, c20, c21, c30, c31);
}

@inline function store4x8(cp: usize, ldc: usize, add: bool,
  c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128): void {
  if (add) {
    c00 = f32x4.add(c00, v128.load(cp)); c01 = f32x4.add(c01, v128.load(cp, 16));
    c10 = f32x4.add(c10, v128.load(cp + ldc)); c11 = f32x4.add(c11, v128.load(cp + ldc, 16));
    c20 = f32x4.add(c20, v128.load(cp + 2 * ldc)); c21 = f32x4.add(c21, v128.load(cp + 2 * ldc, 16));
    c30 = f32x4.add(c30, v128.load(cp + 3 * ldc)); c31 = f32x4.add(c31, v128.load(cp + 3 * ldc, 16));
  }
  v128.store(cp, c00); v128.store(cp, c01, 16);
  v128.store(cp + ldc, c10); v128.store(cp + ldc, c11, 16);
  v128.store(cp + 2 * ldc, c20); v128.store(cp + 2 * ldc, c21, 16);
  v128.store(cp + 3 * ldc, c30); v128.store(cp + 3 * ldc, c31, 16);
}

/** 1×16 tile (leftover rows of NN), A row in place */
@inline function mkN1x16(a: usize, bp: usize, kc: i32, cp: usize, add: bool): void {
  let c0 = f32x4.splat(0), c1 = c0, c2 = c0, c3 = c0;
  for (let k = 0; k < kc; k++) {
    const p = v128.load32_splat(a);
    c0 = madd(p, v128.load(bp), c0);
    c1 = madd(p, v128.load(bp, 16), c1);
    c2 = madd(p, v128.load(bp, 32), c2);
    c3 = madd(p, v128.load(bp, 48), c3);
    a += 4; bp += 64;
  }
  if (add) {
    c0 = f32x4.add(c0, v128.load(cp)); c1 = f32x4.add(c1, v128.load(cp, 16));
    c2 = f32x4.add(c2, v128.load(cp, 32)); c3 = f32x4.add(c3, v128.load(cp, 48));
  }
  v128.store(cp, c0); v128.store(cp, c1, 16); v128.store(cp, c2, 32); v128.store(cp, c3, 48);
}

// edge tiles go through a small temp tile [h × 16] (row stride 64 bytes)
function tileIn(tmp: usize, cp: usize, ldc: usize, h: i32, w: i32, add: bool): void {
  if (!add) return;
  for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) store<f32>(tmp + <usize>(r * 64 + q * 4), load<f32>(cp + <usize>r * ldc + <usize>q * 4));
}
function tileOut(tmp: usize, cp: usize, ldc: usize, h: i32, w: i32): void {
  for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) store<f32>(cp + <usize>r * ldc + <usize>q * 4, load<f32>(tmp + <usize>(r * 64 + q * 4)));
}

/** one k-block of rows [i0, i1) of C against a packed panel of w ≤ 16 columns, A rows in place */
function panelRowsN(c: usize, ldc: usize, a: usize, lda: usize, bp: usize, kc: i32, i0: i32, i1: i32, w: i32, add: bool, tmp: usize): void {
  let i = i0;
  if (w == 16) {
    for (; i + 4 <= i1; i += 4) {
      const ai = a + <usize>i * lda, ci = c + <usize>i * ldc;
      mkN4x8(ai, lda, bp, kc, ci, ldc, add);
      mkN4x8(ai, lda, bp + 32, kc, ci + 32, ldc, add);
    }
    for (; i < i1; i++) mkN1x16(a + <usize>i * lda, bp, kc, c + <usize>i * ldc, add);
  } else {
    for (; i + 4 <= i1; i += 4) {
      const ai = a + <usize>i * lda, ci = c + <usize>i * ldc;
      tileIn(tmp, ci, ldc, 4, w, add);
      mkN4x8(ai, lda, bp, kc, tmp, 64, add);
      if (w > 8) mkN4x8(ai, lda, bp + 32, kc, tmp + 32, 64, add);
      tileOut(tmp, ci, ldc, 4, w);
    }
    for (; i < i1; i++) {
      const ci = c + <usize>i * ldc;
      tileIn(tmp, ci, ldc, 1, w, add);
      mkN1x16(a + <usize>i * lda, bp, kc, tmp, add);
      tileOut(tmp, ci, ldc, 1, w);
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
  nnDriver(c, ldc, a, lda, b, ldb, M, N, K, acc, ws, false);
}

/** NN, or NT through transposing packs (transB: B[N×K]) */
function nnDriver(c: usize, ldc: i32, a: usize, lda: i32, b: usize, ldb: i32, M: i32, N: i32, K: i32, acc: bool, ws: usize, transB: bool): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) { if (!acc) zeroRows(c, ldc, M, N); return; }
  const ldcb = <usize>ldc * 4, ldab = <usize>lda * 4, ldbb = <usize>ldb * 4;
  const tmp = ws, bpack = ws + TMP + APACK;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    const add = acc || pc > 0;
    for (let jc = 0; jc < N; jc += NC) {
      const nc = min(NC, N - jc);
      if (transB) packBT(bpack, b + <usize>jc * ldbb + <usize>pc * 4, ldbb, kc, nc);
      else packB(bpack, b + <usize>pc * ldbb + <usize>jc * 4, ldbb, kc, nc);
      for (let ic = 0; ic < M; ic += MC_NN) {
        const iEnd = min(M, ic + MC_NN);
        for (let jr = 0; jr < nc; jr += 16) {
          panelRowsN(c + <usize>(jc + jr) * 4, ldcb, a + <usize>pc * 4, ldab, bpack + <usize>jr * kc * 4, kc, ic, iEnd, min(16, nc - jr), add, tmp);
        }
      }
    }
  }
}

/**
 * Packs Aᵀ: panel p at dst + p·kc·16 holds A[k][4p .. 4p + 4) for k < kc (zeros past mc), A row stride
 * lda bytes. Reads A row by row.
 */
function packAT(dst: usize, a: usize, lda: usize, kc: i32, mc: i32): void {
  const full = mc & ~3, pstride = <usize>kc * 16;
  for (let k = 0; k < kc; k++) {
    let d = dst + <usize>k * 16, src = a;
    for (let i = 0; i < full; i += 4) {
      v128.store(d, v128.load(src));
      d += pstride; src += 16;
    }
    if (full < mc) {
      v128.store(d, v128.splat<i32>(0));
      for (let r = 0; r < mc - full; r++) store<f32>(d + <usize>r * 4, load<f32>(src + <usize>r * 4));
    }
    a += lda;
  }
}

export function gemm_tn(c: usize, ldc: i32, a: usize, lda: i32, b: usize, ldb: i32, M: i32, N: i32, K: i32, acc: bool, ws: usize): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) { if (!acc) zeroRows(c, ldc, M, N); return; }
  const ldcb = <usize>ldc * 4, ldab = <usize>lda * 4, ldbb = <usize>ldb * 4;
  const tmp = ws, apack = ws + TMP, bpack = apack + APACK;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    const add = acc || pc > 0;
    for (let jc = 0; jc < N; jc += NC) {
      const nc = min(NC, N - jc);
      packB(bpack, b + <usize>pc * ldbb + <usize>jc * 4, ldbb, kc, nc);
      for (let ic = 0; ic < M; ic += MC_TN) {
        const mc = min(MC_TN, M - ic);
        packAT(apack, a + <usize>pc * ldab + <usize>ic * 4, ldab, kc, mc);
        for (let jr = 0; jr < nc; jr += 16) {
          const w = min(16, nc - jr);
          const bp = bpack + <usize>jr * kc * 4;
          for (let ir = 0; ir < mc; ir += 4) {
            const h = min(4, mc - ir);
            const ap = apack + <usize>ir * kc * 4;
            const cp = c + <usize>(ic + ir) * ldcb + <usize>(jc + jr) * 4;
            if (h == 4 && w == 16) {
              mkP4x8(ap, bp, kc, cp, ldcb, add);
              mkP4x8(ap, bp + 32, kc, cp + 32, ldcb, add);
            } else {
              tileIn(tmp, cp, ldcb, h, w, add);
              mkP4x8(ap, bp, kc, tmp, 64, add);
              if (w > 8) mkP4x8(ap, bp + 32, kc, tmp + 32, 64, add);
              tileOut(tmp, cp, ldcb, h, w);
            }
          }
        }
      }
    }
  }
}
