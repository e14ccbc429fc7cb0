// Softmax cross-entropy, one row of V logits at a time.
import { exp4 } from "./math";

/**
 * Natural log of a positive finite float64, to ~1 ulp, without tables (so the module keeps no data
 * segment): x = m·2^e with m in [√½, √2), ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172.
 */
function log64(x: f64): f64 {
  let bits = reinterpret<u64>(x);
  let e = <i32>((bits >> 52) & 0x7ff) - 1023;
  let m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000);
  if (m > 1.4142135623730951) { m *= 0.5; e += 1; }
  const s = (m - 1) / (m + 1), s2 = s * s;
  let p: f64 = 1.0 / 23;
  for (let k = 21; k >= 1; k -= 2) p = p * s2 + 1.0 / <f64>k;
  return 2 * s * p + <f64>e * 0.6931471805599453;
}

/**
 * Softmax cross-entropy over N rows of V logits (see types.ts). targets: i32 indices; dLogits = 0: no
 * gradient. Returns Σ −log p[target] over rows with target ≥ 0 (float64 accumulation).
 */
export function softmax_xent(dLogits: usize, logits: usize, targets: usize, N: i32, V: i32, scale: f32): f64 {
  const Vb = <usize>V * 4;
  const V4 = V & ~3;
  let loss: f64 = 0;
  for (let n = 0; n < N; n++) {
    const l = logits + <usize>n * Vb, d = dLogits + <usize>n * Vb;
    const t = load<i32>(targets + <usize>n * 4);
    if (t < 0) {
      if (dLogits) memory.fill(d, 0, Vb);
      continue;
    }
    // max
    let mv = f32x4.splat(-Infinity);
    let v = 0;
    for (; v < V4; v += 4) mv = f32x4.max(mv, v128.load(l + <usize>v * 4));
    let mx = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (; v < V; v++) mx = max(mx, load<f32>(l + <usize>v * 4));
    // Σ exp(l − max), keeping exp(l − max) in dLogits when wanted
    const m4 = f32x4.splat(mx);
    let s4 = f32x4.splat(0);
    for (v = 0; v < V4; v += 4) {
      const e = exp4(f32x4.sub(v128.load(l + <usize>v * 4), m4));
      s4 = f32x4.add(s4, e);
      if (dLogits) v128.store(d + <usize>v * 4, e);
    }
    let sum = <f64>f32x4.extract_lane(s4, 0) + <f64>f32x4.extract_lane(s4, 1) + <f64>f32x4.extract_lane(s4, 2) + <f64>f32x4.extract_lane(s4, 3);
    for (; v < V; v++) {
      const e = exp4(f32x4.sub(v128.load32_zero(l + <usize>v * 4), m4));
      sum += <f64>f32x4.extract_lane(e, 0);
      if (dLogits) v128.store32_lane(d + <usize>v * 4, e, 0);
    }
    loss += log64(sum) - (<f64>load<f32>(l + <usize>t * 4) - <f64>mx);
    if (dLogits) {
      const k = f32x4.splat(<f32>(<f64>scale / sum));
      for (v = 0; v < V4; v += 4) v128.store(d + <usize>v * 4, f32x4.mul(v128.load(d + <usize>v * 4), k));
      for (; v < V; v++) store<f32>(d + <usize>v * 4, load<f32>(d + <usize>v * 4) * f32x4.extract_lane(k, 0));
      store<f32>(d + <usize>t * 4, load<f32>(d + <usize>t * 4) - scale);
    }
  }
  return loss;
}
