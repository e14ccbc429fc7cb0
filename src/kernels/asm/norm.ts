// Normalisations (--norm; math in src/model/norm.ts): layer norm over each row. Four columns at a time, the
// last N mod 4 one at a time through the same code (lane 0); sums in float32, four lanes then added across.
// Every element of a row is read before any of it is written, so y may alias x, and dx may alias dy or xhat.
import { hsum, ld, splat, st } from "./simd";

const EPS: f32 = 1e-5; // NORM_EPS of src/kernels/types.ts

/** Σ of n floats at p */
@inline function rowSum(p: usize, n: i32): f32 {
  let s = splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) s = f32x4.add(s, v128.load(p + <usize>j * 4));
  let r = hsum(s);
  for (; j < n; j++) r += load<f32>(p + <usize>j * 4);
  return r;
}

/** Σ (x − mu)² of n floats at p */
@inline function rowSqDev(p: usize, mu: f32, n: i32): f32 {
  const m = splat(mu);
  let s = splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const d = f32x4.sub(v128.load(p + <usize>j * 4), m);
    s = f32x4.add(s, f32x4.mul(d, d));
  }
  let r = hsum(s);
  for (; j < n; j++) {
    const d = load<f32>(p + <usize>j * 4) - mu;
    r += d * d;
  }
  return r;
}

/** y[M×N] = γ ⊙ (x − μ)/σ (+ β when beta ≠ 0) per row; xhat, rstd[M] saved */
export function ln_fwd(y: usize, xhat: usize, rstd: usize, x: usize, gamma: usize, beta: usize, M: i32, N: i32): void {
  if (beta) lnFLoop(y, xhat, rstd, x, gamma, beta, M, N, true);
  else lnFLoop(y, xhat, rstd, x, gamma, 0, M, N, false);
}
@inline function lnFLoop(y: usize, xhat: usize, rstd: usize, x: usize, gamma: usize, beta: usize, M: i32, N: i32, hasBeta: bool): void {
  const rs = <usize>N * 4;
  for (let i = 0; i < M; i++) {
    const xr = x + <usize>i * rs, yr = y + <usize>i * rs, hr = xhat + <usize>i * rs;
    const mu = rowSum(xr, N) / <f32>N;
    const r: f32 = 1.0 / Mathf.sqrt(rowSqDev(xr, mu, N) / <f32>N + EPS);
    store<f32>(rstd + <usize>i * 4, r);
    let j = 0;
    for (; j + 4 <= N; j += 4) lnF(yr, hr, xr, gamma, beta, <usize>j * 4, mu, r, hasBeta, true);
    for (; j < N; j++) lnF(yr, hr, xr, gamma, beta, <usize>j * 4, mu, r, hasBeta, false);
  }
}
@inline function lnF(y: usize, xhat: usize, x: usize, gamma: usize, beta: usize, o: usize, mu: f32, r: f32, hasBeta: bool, full: bool): void {
  const xh = f32x4.mul(f32x4.sub(ld(x + o, full), splat(mu)), splat(r));
  st(xhat + o, xh, full);
  const g = f32x4.mul(ld(gamma + o, full), xh);
  st(y + o, hasBeta ? f32x4.add(g, ld(beta + o, full)) : g, full);
}

/** dgamma += Σ dy⊙xhat, dbeta += Σ dy (each when ≠ 0); dx = rstd·(g − mean(g) − xhat·mean(g⊙xhat)), g = γ⊙dy */
export function ln_bwd(dx: usize, dgamma: usize, dbeta: usize, dy: usize, xhat: usize, rstd: usize, gamma: usize, M: i32, N: i32): void {
  const rs = <usize>N * 4;
  for (let i = 0; i < M; i++) {
    const dyr = dy + <usize>i * rs, hr = xhat + <usize>i * rs, dxr = dx + <usize>i * rs;
    let sa = splat(0), sb = splat(0);
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const o = <usize>j * 4;
      const d = v128.load(dyr + o), xh = v128.load(hr + o);
      const g = f32x4.mul(v128.load(gamma + o), d);
      sa = f32x4.add(sa, g);
      sb = f32x4.add(sb, f32x4.mul(g, xh));
      if (dgamma) v128.store(dgamma + o, f32x4.add(v128.load(dgamma + o), f32x4.mul(d, xh)));
      if (dbeta) v128.store(dbeta + o, f32x4.add(v128.load(dbeta + o), d));
    }
    let a = hsum(sa), b = hsum(sb);
    for (; j < N; j++) {
      const o = <usize>j * 4;
      const d = load<f32>(dyr + o), xh = load<f32>(hr + o);
      const g = load<f32>(gamma + o) * d;
      a += g;
      b += g * xh;
      if (dgamma) store<f32>(dgamma + o, load<f32>(dgamma + o) + d * xh);
      if (dbeta) store<f32>(dbeta + o, load<f32>(dbeta + o) + d);
    }
    a /= <f32>N;
    b /= <f32>N;
    const r = load<f32>(rstd + <usize>i * 4);
    j = 0;
    for (; j + 4 <= N; j += 4) lnB(dxr, dyr, hr, gamma, <usize>j * 4, a, b, r, true);
    for (; j < N; j++) lnB(dxr, dyr, hr, gamma, <usize>j * 4, a, b, r, false);
  }
}
@inline function lnB(dx: usize, dy: usize, xhat: usize, gamma: usize, o: usize, a: f32, b: f32, r: f32, full: bool): void {
  const g = f32x4.mul(ld(gamma + o, full), ld(dy + o, full));
  const t = f32x4.sub(f32x4.sub(g, splat(a)), f32x4.mul(ld(xhat + o, full), splat(b)));
  st(dx + o, f32x4.mul(t, splat(r)), full);
}
