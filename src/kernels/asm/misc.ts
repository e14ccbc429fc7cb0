// Row gather / scatter, bias broadcast and its gradient. Byte offsets; idx points at i32 indices.
import { ld, st } from "./simd";

/** first n in [0, N) with idx[n] outside [lo, hi), or −1 */
export function check_idx(idx: usize, N: i32, lo: i32, hi: i32): i32 {
  for (let n = 0; n < N; n++) {
    const v = load<i32>(idx + <usize>n * 4);
    if (v < lo || v >= hi) return n;
  }
  return -1;
}

/** dst[0..C) (=|+=) src[0..C) */
@inline function rowOp(dst: usize, src: usize, C: i32, acc: bool): void {
  let j = 0;
  if (acc) {
    for (; j + 4 <= C; j += 4) v128.store(dst + <usize>j * 4, f32x4.add(v128.load(dst + <usize>j * 4), v128.load(src + <usize>j * 4)));
    for (; j < C; j++) store<f32>(dst + <usize>j * 4, load<f32>(dst + <usize>j * 4) + load<f32>(src + <usize>j * 4));
  } else {
    memory.copy(dst, src, <usize>C * 4);
  }
}

export function gather_rows(out: usize, table: usize, idx: usize, N: i32, C: i32, acc: bool): void {
  for (let n = 0; n < N; n++) {
    const r = load<i32>(idx + <usize>n * 4);
    rowOp(out + <usize>n * C * 4, table + <usize>r * C * 4, C, acc);
  }
}

export function scatter_add_rows(dTable: usize, dOut: usize, idx: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const r = load<i32>(idx + <usize>n * 4);
    rowOp(dTable + <usize>r * C * 4, dOut + <usize>n * C * 4, C, true);
  }
}

export function add_bias(out: usize, b: usize, N: i32, C: i32, acc: bool): void {
  for (let n = 0; n < N; n++) rowOp(out + <usize>n * C * 4, b, C, acc);
}

/** db[C] += Σ_n d[n×C]: row by row (sequential reads), four rows per pass over db (in L1) */
export function bias_backward(db: usize, d: usize, N: i32, C: i32): void {
  const rs = <usize>C * 4;
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const p = d + <usize>n * rs;
    let j = 0;
    for (; j + 4 <= C; j += 4) sum4(db, p, rs, <usize>j * 4, true);
    for (; j < C; j++) sum4(db, p, rs, <usize>j * 4, false);
  }
  for (; n < N; n++) rowOp(db, d + <usize>n * rs, C, true);
}

@inline function sum4(db: usize, p: usize, rs: usize, o: usize, full: bool): void {
  const s = f32x4.add(f32x4.add(ld(p + o, full), ld(p + rs + o, full)), f32x4.add(ld(p + 2 * rs + o, full), ld(p + 3 * rs + o, full)));
  st(db + o, f32x4.add(ld(db + o, full), s), full);
}
