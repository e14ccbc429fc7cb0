// Shared SIMD helpers (AssemblyScript). One source, two builds: with `--enable relaxed-simd` the
// multiply-add is one fused relaxed instruction, without it a mul and an add.

/** a·b + c, four lanes */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** [Σa, Σb, Σc, Σd]: four horizontal sums at once */
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const t1 = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const t2 = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(t1, t2, 0, 1, 4, 5), v128.shuffle<f32>(t1, t2, 2, 3, 6, 7));
}

/** Σ of the four lanes */
@inline export function hsum(a: v128): f32 {
  const t = f32x4.add(a, v128.shuffle<f32>(a, a, 2, 3, 0, 1));
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 1);
}

/** load four floats (full) or one float into lane 0 (tail columns); constant-folded after inlining */
@inline export function ld(p: usize, full: bool): v128 {
  return full ? v128.load(p) : v128.load32_zero(p);
}

/** store four floats (full) or lane 0 only */
@inline export function st(p: usize, v: v128, full: bool): void {
  if (full) v128.store(p, v);
  else v128.store32_lane(p, v, 0);
}

@inline export function splat(x: f32): v128 {
  return f32x4.splat(x);
}
