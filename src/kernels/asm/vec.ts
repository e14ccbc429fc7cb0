// Whole-slab vector operations (gradient reduction, clipping, the Adam update) and the transpose pack()
// needs. Element counts are arbitrary; four lanes at a time, the tail one at a time through the same code.
import { ld, st } from "./simd";

/** y[n] += x[n] */
export function add_to(y: usize, x: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) addTo(y + <usize>i * 4, x + <usize>i * 4, true);
  for (; i < n; i++) addTo(y + <usize>i * 4, x + <usize>i * 4, false);
}
@inline function addTo(y: usize, x: usize, full: bool): void {
  st(y, f32x4.add(ld(y, full), ld(x, full)), full);
}

/** x[n] *= s */
export function scale(x: usize, s: f32, n: i32): void {
  const k = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(x + <usize>i * 4, f32x4.mul(v128.load(x + <usize>i * 4), k));
  for (; i < n; i++) store<f32>(x + <usize>i * 4, load<f32>(x + <usize>i * 4) * s);
}

/** Σ x[i]², each square and the sum in float64 (two f64x2 accumulators per four floats) */
export function sum_squares(x: usize, n: i32): f64 {
  let a0 = f64x2.splat(0), a1 = a0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + <usize>i * 4);
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
    a0 = f64x2.add(a0, f64x2.mul(lo, lo));
    a1 = f64x2.add(a1, f64x2.mul(hi, hi));
  }
  const s = f64x2.add(a0, a1);
  let r = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + <usize>i * 4);
    r += v * v;
  }
  return r;
}

/**
 * Adam over n parameters, torch.optim.Adam's update (float32, operation by operation):
 *   g ← g + wd·p;  m ← b1·m + (1−b1)·g;  v ← b2·v + (1−b2)·g·g
 *   p ← p − stepSize · (m / (√v / bc2Sqrt + eps))    stepSize = lr / (1 − b1^t), bc2Sqrt = √(1 − b2^t)
 * The scalars come as torch has them: computed in float64 (c1 = 1 − b1, c2 = 1 − b2 too), used as float32.
 * Plain multiplies and adds (no fused multiply-add), so both builds update identically.
 */
export function adam(p: usize, m: usize, v: usize, g: usize, n: i32,
  stepSize: f32, b1: f32, c1: f32, b2: f32, c2: f32, bc2Sqrt: f32, eps: f32, wd: f32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i * 4;
    adam4(p + o, m + o, v + o, g + o, stepSize, b1, c1, b2, c2, bc2Sqrt, eps, wd, true);
  }
  for (; i < n; i++) {
    const o = <usize>i * 4;
    adam4(p + o, m + o, v + o, g + o, stepSize, b1, c1, b2, c2, bc2Sqrt, eps, wd, false);
  }
}
@inline function adam4(p: usize, m: usize, v: usize, g: usize,
  stepSize: f32, b1: f32, c1: f32, b2: f32, c2: f32, bc2Sqrt: f32, eps: f32, wd: f32, full: bool): void {
  const pv = ld(p, full);
  let gv = ld(g, full);
  if (wd != 0) gv = f32x4.add(gv, f32x4.mul(pv, f32x4.splat(wd)));
  const mv = f32x4.add(f32x4.mul(ld(m, full), f32x4.splat(b1)), f32x4.mul(gv, f32x4.splat(c1)));
  const vv = f32x4.add(f32x4.mul(ld(v, full), f32x4.splat(b2)), f32x4.mul(f32x4.mul(gv, gv), f32x4.splat(c2)));
  const denom = f32x4.add(f32x4.div(f32x4.sqrt(vv), f32x4.splat(bc2Sqrt)), f32x4.splat(eps));
  st(m, mv, full);
  st(v, vv, full);
  st(p, f32x4.sub(pv, f32x4.mul(f32x4.splat(stepSize), f32x4.div(mv, denom))), full);
}

/**
 * dst[C×R] (=|+=) src[R×C]ᵀ, in 4×4 blocks (one 4×4 SIMD transpose each), the ragged edges element by
 * element.
 */
export function transpose(dst: usize, src: usize, R: i32, C: i32, acc: bool): void {
  const R4 = R & ~3, C4 = C & ~3, rs = <usize>C * 4, ds = <usize>R * 4;
  for (let r = 0; r < R4; r += 4) {
    const s = src + <usize>r * rs;
    for (let c = 0; c < C4; c += 4) {
      const a = v128.load(s + <usize>c * 4), b = v128.load(s + rs + <usize>c * 4);
      const e = v128.load(s + 2 * rs + <usize>c * 4), f = v128.load(s + 3 * rs + <usize>c * 4);
      const t0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5), t1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
      const t2 = v128.shuffle<f32>(e, f, 0, 4, 1, 5), t3 = v128.shuffle<f32>(e, f, 2, 6, 3, 7);
      const d = dst + <usize>c * ds + <usize>r * 4;
      put(d, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5), acc);
      put(d + ds, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), acc);
      put(d + 2 * ds, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), acc);
      put(d + 3 * ds, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), acc);
    }
    for (let c = C4; c < C; c++) for (let q = 0; q < 4; q++) put1(dst + <usize>c * ds + <usize>(r + q) * 4, load<f32>(s + <usize>q * rs + <usize>c * 4), acc);
  }
  for (let r = R4; r < R; r++) {
    for (let c = 0; c < C; c++) put1(dst + <usize>c * ds + <usize>r * 4, load<f32>(src + <usize>r * rs + <usize>c * 4), acc);
  }
}
@inline function put(d: usize, x: v128, acc: bool): void {
  v128.store(d, acc ? f32x4.add(v128.load(d), x) : x);
}
@inline function put1(d: usize, x: f32, acc: bool): void {
  store<f32>(d, acc ? load<f32>(d) + x : x);
}
