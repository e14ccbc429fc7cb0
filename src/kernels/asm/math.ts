// Vectorised transcendentals, float32, ~1–2 ulp (Cephes single-precision algorithms).
//
// Written for what V8 emits on x64: wasm's f32x4.min/max (NaN- and ±0-exact) cost ~8 instructions each and
// i32x4.trunc_sat ~10, so the clamp uses pmin/pmax (one minps/maxps; a NaN input still propagates) and
// 2^n is built with the round-to-nearest magic-number trick instead of nearest + trunc_sat. Both give
// bit-for-bit what the straightforward form gives.
import { madd, splat } from "./simd";

// 1.5·2^23: adding it to a float of magnitude < 2^22 rounds it to an integer (ties to even, as
// f32x4.nearest) and leaves that integer in the low mantissa bits
const MAGIC: f32 = 12582912.0;

/** e^x, four lanes. Inputs are clamped to [−87.3, 88] (results stay finite and normal). */
@inline export function exp4(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, splat(-87.3)), splat(88.0));
  // n = round(x·log2 e), in t's mantissa (product rounded to float32 first, as before: no fused madd)
  const t = f32x4.add(f32x4.mul(x, splat(1.44269504088896341)), splat(MAGIC));
  const fx = f32x4.sub(t, splat(MAGIC));
  // x − fx·ln2 in two parts (Cody–Waite)
  x = f32x4.sub(x, f32x4.mul(fx, splat(0.693359375)));
  x = f32x4.sub(x, f32x4.mul(fx, splat(-2.12194440e-4)));
  let y = splat(1.9875691500e-4);
  y = madd(y, x, splat(1.3981999507e-3));
  y = madd(y, x, splat(8.3334519073e-3));
  y = madd(y, x, splat(4.1665795894e-2));
  y = madd(y, x, splat(1.6666665459e-1));
  y = madd(y, x, splat(5.0000001201e-1));
  y = madd(y, f32x4.mul(x, x), f32x4.add(x, splat(1.0)));
  // 2^n through the exponent bits: bits(t) = bits(MAGIC) + n; (bits(t) + 127) << 23 keeps n + 127 ∈ [1, 254]
  // in the exponent field and shifts the magic number's own bits out
  const e = i32x4.shl(i32x4.add(t, i32x4.splat(127)), 23);
  return f32x4.mul(y, e);
}

/** 1 / (1 + e^−x) */
@inline export function sigmoid4(x: v128): v128 {
  return f32x4.div(splat(1.0), f32x4.add(splat(1.0), exp4(f32x4.neg(x))));
}

/** tanh: odd polynomial for |x| < 0.625, else 1 − 2/(e^{2|x|} + 1) with the sign of x */
@inline export function tanh4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = splat(-5.70498872745e-3);
  p = madd(p, z, splat(2.06390887954e-2));
  p = madd(p, z, splat(-5.37397155531e-2));
  p = madd(p, z, splat(1.33314422036e-1));
  p = madd(p, z, splat(-3.33332819422e-1));
  const small = madd(f32x4.mul(p, z), x, x);
  const big = f32x4.sub(splat(1.0), f32x4.div(splat(2.0), f32x4.add(exp4(f32x4.add(ax, ax)), splat(1.0))));
  const signed = v128.or(big, v128.and(x, i32x4.splat(0x80000000)));
  return v128.bitselect(small, signed, f32x4.lt(ax, splat(0.625)));
}
