// Vectorised transcendentals, float32, ~1–2 ulp (Cephes single-precision algorithms).
import { madd, splat } from "./simd";

/** e^x, four lanes. Inputs are clamped to [−87.3, 88] (results stay finite and normal). */
@inline export function exp4(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, splat(-87.3)), splat(88.0));
  const fx = f32x4.nearest(f32x4.mul(x, splat(1.44269504088896341)));
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
  // 2^fx through the exponent bits
  const e = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(fx), i32x4.splat(127)), 23);
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
