// Normalisations (--norm; math in src/model/norm.ts): layer norm over each row, batch norm per column over the
// rows of a step. Four columns at a time, the last N mod 4 one at a time through the same code (lane 0); sums
// in float32 (layer norm: four lanes, then added across). Every element of a row (column) is read before any
// of it is written, so y may alias x, and dx may alias dy or xhat.
import { SCRATCH_BYTES } from "./gemm";
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

// ---- batch norm: per column over the M rows (of one step) -------------------------------------------------
// Row by row, the per-column sums kept in this thread's scratch `ws` (two rows of N floats): walking a column
// down the rows instead strides by the row length, and at a row of 2 KiB every row of a column falls in the
// same few L1 sets (measured 4.5× slower at 50 × 512). A row too long for the scratch (N > SCRATCH_BYTES / 8)
// goes column by column, four at a time.

/** y[M×N] = γ ⊙ (x − μ)/σ (+ β) per column, μ and the biased σ² over the rows; xhat, rstd[N] saved. With
 *  runMean ≠ 0: runMean = m·μ + (1−m)·runMean, runVar = m·σ²_unbiased + (1−m)·runVar (m = momentum) */
export function bn_fwd(y: usize, xhat: usize, rstd: usize, runMean: usize, runVar: usize, x: usize, gamma: usize, beta: usize, M: i32, N: i32, momentum: f32, ws: usize): void {
  if (<usize>N * 8 <= <usize>SCRATCH_BYTES) bnRows(y, xhat, rstd, runMean, runVar, x, gamma, beta, M, N, momentum, ws);
  else if (beta) {
    if (runMean) bnFLoop(y, xhat, rstd, runMean, runVar, x, gamma, beta, M, N, momentum, true, true);
    else bnFLoop(y, xhat, rstd, 0, 0, x, gamma, beta, M, N, momentum, true, false);
  } else if (runMean) bnFLoop(y, xhat, rstd, runMean, runVar, x, gamma, 0, M, N, momentum, false, true);
  else bnFLoop(y, xhat, rstd, 0, 0, x, gamma, 0, M, N, momentum, false, false);
}

/** bn_fwd row by row: μ in ws[0, N), Σ(x − μ)² in ws[N, 2N) */
function bnRows(y: usize, xhat: usize, rstd: usize, runMean: usize, runVar: usize, x: usize, gamma: usize, beta: usize, M: i32, N: i32, momentum: f32, ws: usize): void {
  const rs = <usize>N * 4, mu = ws, q = ws + rs;
  memory.fill(ws, 0, rs * 2);
  for (let i = 0; i < M; i++) rowAcc(mu, x + <usize>i * rs, 0, N, false);
  rowScale(mu, <f32>1.0 / <f32>M, N);
  for (let i = 0; i < M; i++) rowAcc(q, x + <usize>i * rs, mu, N, true);
  for (let j = 0; j < N; j++) {
    const o = <usize>j * 4, qj = load<f32>(q + o), mj = load<f32>(mu + o);
    store<f32>(rstd + o, <f32>1.0 / Mathf.sqrt(qj / <f32>M + EPS));
    if (runMean) {
      store<f32>(runMean + o, momentum * mj + (<f32>1.0 - momentum) * load<f32>(runMean + o));
      store<f32>(runVar + o, momentum * (M > 1 ? qj / <f32>(M - 1) : qj) + (<f32>1.0 - momentum) * load<f32>(runVar + o));
    }
  }
  for (let i = 0; i < M; i++) {
    const at = <usize>i * rs;
    if (beta) bnRow(y + at, xhat + at, x + at, mu, rstd, gamma, beta, N, true);
    else bnRow(y + at, xhat + at, x + at, mu, rstd, gamma, 0, N, false);
  }
}
/** acc[N] += x (sq: += (x − mu)²) */
@inline function rowAcc(acc: usize, x: usize, mu: usize, N: i32, sq: bool): void {
  let j = 0;
  for (; j + 4 <= N; j += 4) rowAccF(acc, x, mu, <usize>j * 4, sq, true);
  for (; j < N; j++) rowAccF(acc, x, mu, <usize>j * 4, sq, false);
}
@inline function rowAccF(acc: usize, x: usize, mu: usize, o: usize, sq: bool, full: bool): void {
  let v = ld(x + o, full);
  if (sq) {
    v = f32x4.sub(v, ld(mu + o, full));
    v = f32x4.mul(v, v);
  }
  st(acc + o, f32x4.add(ld(acc + o, full), v), full);
}
@inline function rowScale(a: usize, k: f32, N: i32): void {
  let j = 0;
  for (; j + 4 <= N; j += 4) v128.store(a + <usize>j * 4, f32x4.mul(v128.load(a + <usize>j * 4), splat(k)));
  for (; j < N; j++) store<f32>(a + <usize>j * 4, load<f32>(a + <usize>j * 4) * k);
}
/** one row: xhat = (x − mu) ⊙ rstd, y = γ ⊙ xhat (+ β) */
@inline function bnRow(y: usize, xhat: usize, x: usize, mu: usize, rstd: usize, gamma: usize, beta: usize, N: i32, hasBeta: bool): void {
  let j = 0;
  for (; j + 4 <= N; j += 4) bnRowF(y, xhat, x, mu, rstd, gamma, beta, <usize>j * 4, hasBeta, true);
  for (; j < N; j++) bnRowF(y, xhat, x, mu, rstd, gamma, beta, <usize>j * 4, hasBeta, false);
}
@inline function bnRowF(y: usize, xhat: usize, x: usize, mu: usize, rstd: usize, gamma: usize, beta: usize, o: usize, hasBeta: bool, full: bool): void {
  const xh = f32x4.mul(f32x4.sub(ld(x + o, full), ld(mu + o, full)), ld(rstd + o, full));
  st(xhat + o, xh, full);
  const v = f32x4.mul(ld(gamma + o, full), xh);
  st(y + o, hasBeta ? f32x4.add(v, ld(beta + o, full)) : v, full);
}

@inline function bnFLoop(y: usize, xhat: usize, rstd: usize, runMean: usize, runVar: usize, x: usize, gamma: usize, beta: usize,
  M: i32, N: i32, momentum: f32, hasBeta: bool, update: bool): void {
  let j = 0;
  for (; j + 4 <= N; j += 4) bnF(y, xhat, rstd, runMean, runVar, x, gamma, beta, M, N, momentum, <usize>j * 4, hasBeta, update, true);
  for (; j < N; j++) bnF(y, xhat, rstd, runMean, runVar, x, gamma, beta, M, N, momentum, <usize>j * 4, hasBeta, update, false);
}
@inline function bnF(y: usize, xhat: usize, rstd: usize, runMean: usize, runVar: usize, x: usize, gamma: usize, beta: usize,
  M: i32, N: i32, momentum: f32, o: usize, hasBeta: bool, update: bool, full: bool): void {
  const rs = <usize>N * 4;
  let s = splat(0);
  for (let i = 0; i < M; i++) s = f32x4.add(s, ld(x + <usize>i * rs + o, full));
  const mu = f32x4.div(s, splat(<f32>M));
  let q = splat(0);
  for (let i = 0; i < M; i++) {
    const d = f32x4.sub(ld(x + <usize>i * rs + o, full), mu);
    q = f32x4.add(q, f32x4.mul(d, d));
  }
  const r = f32x4.div(splat(1), f32x4.sqrt(f32x4.add(f32x4.div(q, splat(<f32>M)), splat(EPS))));
  st(rstd + o, r, full);
  const g = ld(gamma + o, full), b = hasBeta ? ld(beta + o, full) : splat(0);
  for (let i = 0; i < M; i++) {
    const at = <usize>i * rs + o;
    const xh = f32x4.mul(f32x4.sub(ld(x + at, full), mu), r);
    st(xhat + at, xh, full);
    const v = f32x4.mul(g, xh);
    st(y + at, hasBeta ? f32x4.add(v, b) : v, full);
  }
  if (update) {
    const m = splat(momentum), k = splat(<f32>1.0 - momentum);
    const unbiased = M > 1 ? f32x4.div(q, splat(<f32>(M - 1))) : q;
    st(runMean + o, f32x4.add(f32x4.mul(m, mu), f32x4.mul(k, ld(runMean + o, full))), full);
    st(runVar + o, f32x4.add(f32x4.mul(m, unbiased), f32x4.mul(k, ld(runVar + o, full))), full);
  }
}

/** dgamma += Σ dy⊙xhat, dbeta += Σ dy (each when ≠ 0); dx = rstd·(g − mean(g) − xhat·mean(g⊙xhat)) per column, g = γ⊙dy */
export function bn_bwd(dx: usize, dgamma: usize, dbeta: usize, dy: usize, xhat: usize, rstd: usize, gamma: usize, M: i32, N: i32, ws: usize): void {
  if (<usize>N * 8 <= <usize>SCRATCH_BYTES) {
    bnBRows(dx, dgamma, dbeta, dy, xhat, rstd, gamma, M, N, ws);
    return;
  }
  let j = 0;
  for (; j + 4 <= N; j += 4) bnB(dx, dgamma, dbeta, dy, xhat, rstd, gamma, M, N, <usize>j * 4, true);
  for (; j < N; j++) bnB(dx, dgamma, dbeta, dy, xhat, rstd, gamma, M, N, <usize>j * 4, false);
}

/** bn_bwd row by row: Σ dy in ws[0, N), Σ dy⊙xhat in ws[N, 2N), then γ·each/M in place */
function bnBRows(dx: usize, dgamma: usize, dbeta: usize, dy: usize, xhat: usize, rstd: usize, gamma: usize, M: i32, N: i32, ws: usize): void {
  const rs = <usize>N * 4, sd = ws, sdx = ws + rs;
  memory.fill(ws, 0, rs * 2);
  for (let i = 0; i < M; i++) {
    const at = <usize>i * rs;
    let j = 0;
    for (; j + 4 <= N; j += 4) bnBAcc(sd, sdx, dy + at, xhat + at, <usize>j * 4, true);
    for (; j < N; j++) bnBAcc(sd, sdx, dy + at, xhat + at, <usize>j * 4, false);
  }
  const inv: f32 = <f32>1.0 / <f32>M;
  for (let j = 0; j < N; j++) {
    const o = <usize>j * 4, a = load<f32>(sd + o), b = load<f32>(sdx + o), g = load<f32>(gamma + o);
    if (dgamma) store<f32>(dgamma + o, load<f32>(dgamma + o) + b);
    if (dbeta) store<f32>(dbeta + o, load<f32>(dbeta + o) + a);
    store<f32>(sd + o, g * a * inv);
    store<f32>(sdx + o, g * b * inv);
  }
  for (let i = 0; i < M; i++) {
    const at = <usize>i * rs;
    let j = 0;
    for (; j + 4 <= N; j += 4) bnBRow(dx + at, dy + at, xhat + at, sd, sdx, rstd, gamma, <usize>j * 4, true);
    for (; j < N; j++) bnBRow(dx + at, dy + at, xhat + at, sd, sdx, rstd, gamma, <usize>j * 4, false);
  }
}
@inline function bnBAcc(sd: usize, sdx: usize, dy: usize, xhat: usize, o: usize, full: bool): void {
  const d = ld(dy + o, full);
  st(sd + o, f32x4.add(ld(sd + o, full), d), full);
  st(sdx + o, f32x4.add(ld(sdx + o, full), f32x4.mul(d, ld(xhat + o, full))), full);
}
@inline function bnBRow(dx: usize, dy: usize, xhat: usize, a: usize, b: usize, rstd: usize, gamma: usize, o: usize, full: bool): void {
  const t = f32x4.sub(f32x4.sub(f32x4.mul(ld(gamma + o, full), ld(dy + o, full)), ld(a + o, full)), f32x4.mul(ld(xhat + o, full), ld(b + o, full)));
  st(dx + o, f32x4.mul(t, ld(rstd + o, full)), full);
}

@inline function bnB(dx: usize, dgamma: usize, dbeta: usize, dy: usize, xhat: usize, rstd: usize, gamma: usize, M: i32, N: i32, o: usize, full: bool): void {
  const rs = <usize>N * 4;
  let sd = splat(0), sdx = splat(0);
  for (let i = 0; i < M; i++) {
    const at = <usize>i * rs + o;
    const d = ld(dy + at, full);
    sd = f32x4.add(sd, d);
    sdx = f32x4.add(sdx, f32x4.mul(d, ld(xhat + at, full)));
  }
  if (dgamma) st(dgamma + o, f32x4.add(ld(dgamma + o, full), sdx), full);
  if (dbeta) st(dbeta + o, f32x4.add(ld(dbeta + o, full), sd), full);
  const g = ld(gamma + o, full), inv = splat(<f32>1.0 / <f32>M);
  const a = f32x4.mul(f32x4.mul(g, sd), inv), b = f32x4.mul(f32x4.mul(g, sdx), inv), r = ld(rstd + o, full);
  for (let i = 0; i < M; i++) {
    const at = <usize>i * rs + o;
    const t = f32x4.sub(f32x4.sub(f32x4.mul(g, ld(dy + at, full)), a), f32x4.mul(ld(xhat + at, full), b));
    st(dx + at, f32x4.mul(t, r), full);
  }
}

/** y[M×N] = γ ⊙ (x − runMean)/√(runVar + ε) (+ β): batch norm with the running statistics (evaluation) */
export function bn_infer(y: usize, x: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize, M: i32, N: i32): void {
  if (beta) bnILoop(y, x, gamma, beta, runMean, runVar, M, N, true);
  else bnILoop(y, x, gamma, 0, runMean, runVar, M, N, false);
}
@inline function bnILoop(y: usize, x: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize, M: i32, N: i32, hasBeta: bool): void {
  const rs = <usize>N * 4;
  for (let i = 0; i < M; i++) {
    let j = 0;
    for (; j + 4 <= N; j += 4) bnI(y + <usize>i * rs, x + <usize>i * rs, gamma, beta, runMean, runVar, <usize>j * 4, hasBeta, true);
    for (; j < N; j++) bnI(y + <usize>i * rs, x + <usize>i * rs, gamma, beta, runMean, runVar, <usize>j * 4, hasBeta, false);
  }
}
@inline function bnI(y: usize, x: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize, o: usize, hasBeta: bool, full: bool): void {
  const r = f32x4.div(splat(1), f32x4.sqrt(f32x4.add(ld(runVar + o, full), splat(EPS))));
  const v = f32x4.mul(ld(gamma + o, full), f32x4.mul(f32x4.sub(ld(x + o, full), ld(runMean + o, full)), r));
  st(y + o, hasBeta ? f32x4.add(v, ld(beta + o, full)) : v, full);
}
