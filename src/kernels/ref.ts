// Reference kernels: plain TypeScript loops, generic over Float32Array / Float64Array.
// Slow but obviously right; the WASM kernels are tested against these, and the float64 instance drives the
// finite-difference gradient check. Semantics of every function are documented in types.ts.
import { type Arr, type Kernels, NORM_EPS } from "./types.ts";

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export function gemmNN(C: Arr, A: Arr, B: Arr, M: number, N: number, K: number, acc: boolean): void {
  if (!acc) C.fill(0, 0, M * N);
  for (let i = 0; i < M; i++) {
    const ci = i * N;
    for (let k = 0; k < K; k++) {
      const a = A[i * K + k];
      if (a === 0) continue;
      const bk = k * N;
      for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
    }
  }
}

export function gemmNT(C: Arr, A: Arr, B: Arr, M: number, N: number, K: number, acc: boolean): void {
  for (let i = 0; i < M; i++) {
    const ai = i * K;
    for (let j = 0; j < N; j++) {
      const bj = j * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[ai + k] * B[bj + k];
      C[i * N + j] = acc ? C[i * N + j] + s : s;
    }
  }
}

export function gemmNTBias(C: Arr, A: Arr, B: Arr, bias: Arr, M: number, N: number, K: number): void {
  addBias(C, bias, M, N, false);
  gemmNT(C, A, B, M, N, K, true);
}

export function gemmTNAcc(C: Arr, A: Arr, B: Arr, M: number, N: number, K: number): void {
  for (let k = 0; k < K; k++) {
    const ak = k * M;
    const bk = k * N;
    for (let i = 0; i < M; i++) {
      const a = A[ak + i];
      if (a === 0) continue;
      const ci = i * N;
      for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
    }
  }
}

export function gatherRows(out: Arr, table: Arr, idx: Int32Array, M: number, N: number, acc: boolean): void {
  for (let i = 0; i < M; i++) {
    const src = idx[i] * N;
    const dst = i * N;
    if (acc) for (let j = 0; j < N; j++) out[dst + j] += table[src + j];
    else for (let j = 0; j < N; j++) out[dst + j] = table[src + j];
  }
}

export function scatterAddRows(dTable: Arr, dOut: Arr, idx: Int32Array, M: number, N: number): void {
  for (let i = 0; i < M; i++) {
    const dst = idx[i] * N;
    const src = i * N;
    for (let j = 0; j < N; j++) dTable[dst + j] += dOut[src + j];
  }
}

export function addBias(out: Arr, bias: Arr, M: number, N: number, acc: boolean): void {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    if (acc) for (let j = 0; j < N; j++) out[o + j] += bias[j];
    else for (let j = 0; j < N; j++) out[o + j] = bias[j];
  }
}

export function biasBackward(dBias: Arr, dOut: Arr, M: number, N: number): void {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    for (let j = 0; j < N; j++) dBias[j] += dOut[o + j];
  }
}

export function rnnCellForward(h: Arr, pre: Arr, B: number, H: number, relu: boolean, pre2: Arr | null = null): void {
  const n = B * H;
  if (pre2) for (let i = 0; i < n; i++) pre[i] += pre2[i];
  if (relu) for (let i = 0; i < n; i++) h[i] = pre[i] > 0 ? pre[i] : 0;
  else for (let i = 0; i < n; i++) h[i] = Math.tanh(pre[i]);
}

export function rnnCellBackward(dPre: Arr, dh: Arr, h: Arr, B: number, H: number, relu: boolean, dh2: Arr | null = null): void {
  const n = B * H;
  for (let i = 0; i < n; i++) {
    const d = dh2 ? dh[i] + dh2[i] : dh[i];
    dPre[i] = relu ? (h[i] > 0 ? d : 0) : d * (1 - h[i] * h[i]);
  }
}

export function lstmCellForward(h: Arr, c: Arr, gates: Arr, cPrev: Arr, B: number, H: number, gh: Arr | null = null): void {
  if (gh) for (let i = 0; i < 4 * B * H; i++) gates[i] += gh[i];
  for (let b = 0; b < B; b++) {
    const g0 = b * 4 * H;
    const r = b * H;
    for (let j = 0; j < H; j++) {
      const ig = sigmoid(gates[g0 + j]);
      const fg = sigmoid(gates[g0 + H + j]);
      const gg = Math.tanh(gates[g0 + 2 * H + j]);
      const og = sigmoid(gates[g0 + 3 * H + j]);
      gates[g0 + j] = ig;
      gates[g0 + H + j] = fg;
      gates[g0 + 2 * H + j] = gg;
      gates[g0 + 3 * H + j] = og;
      const cv = fg * cPrev[r + j] + ig * gg;
      c[r + j] = cv;
      h[r + j] = og * Math.tanh(cv);
    }
  }
}

export function lstmCellBackward(dGates: Arr, dc: Arr, dh: Arr, gates: Arr, c: Arr, cPrev: Arr, B: number, H: number, dh2: Arr | null = null): void {
  for (let b = 0; b < B; b++) {
    const g0 = b * 4 * H;
    const r = b * H;
    for (let j = 0; j < H; j++) {
      const ig = gates[g0 + j], fg = gates[g0 + H + j], gg = gates[g0 + 2 * H + j], og = gates[g0 + 3 * H + j];
      const tc = Math.tanh(c[r + j]);
      const dhv = dh2 ? dh[r + j] + dh2[r + j] : dh[r + j];
      const dcv = dc[r + j] + dhv * og * (1 - tc * tc);
      dGates[g0 + j] = dcv * gg * ig * (1 - ig);
      dGates[g0 + H + j] = dcv * cPrev[r + j] * fg * (1 - fg);
      dGates[g0 + 2 * H + j] = dcv * ig * (1 - gg * gg);
      dGates[g0 + 3 * H + j] = dhv * tc * og * (1 - og);
      dc[r + j] = dcv * fg;
    }
  }
}

export function lstmNoForgetCellForward(h: Arr, c: Arr, gates: Arr, cPrev: Arr, B: number, H: number, gh: Arr | null = null): void {
  if (gh) for (let i = 0; i < 3 * B * H; i++) gates[i] += gh[i];
  for (let b = 0; b < B; b++) {
    const g0 = b * 3 * H;
    const r = b * H;
    for (let j = 0; j < H; j++) {
      const ig = sigmoid(gates[g0 + j]);
      const gg = Math.tanh(gates[g0 + H + j]);
      const og = sigmoid(gates[g0 + 2 * H + j]);
      gates[g0 + j] = ig;
      gates[g0 + H + j] = gg;
      gates[g0 + 2 * H + j] = og;
      const cv = cPrev[r + j] + ig * gg;
      c[r + j] = cv;
      h[r + j] = og * Math.tanh(cv);
    }
  }
}

export function lstmNoForgetCellBackward(dGates: Arr, dc: Arr, dh: Arr, gates: Arr, c: Arr, B: number, H: number, dh2: Arr | null = null): void {
  for (let b = 0; b < B; b++) {
    const g0 = b * 3 * H;
    const r = b * H;
    for (let j = 0; j < H; j++) {
      const ig = gates[g0 + j], gg = gates[g0 + H + j], og = gates[g0 + 2 * H + j];
      const tc = Math.tanh(c[r + j]);
      const dhv = dh2 ? dh[r + j] + dh2[r + j] : dh[r + j];
      const dcv = dc[r + j] + dhv * og * (1 - tc * tc);
      dGates[g0 + j] = dcv * gg * ig * (1 - ig);
      dGates[g0 + H + j] = dcv * ig * (1 - gg * gg);
      dGates[g0 + 2 * H + j] = dhv * tc * og * (1 - og);
      dc[r + j] = dcv;
    }
  }
}

export function gruCellForward(h: Arr, gates: Arr, gx: Arr, gh: Arr, hPrev: Arr, B: number, H: number): void {
  for (let b = 0; b < B; b++) {
    const g0 = b * 3 * H;
    const r0 = b * H;
    for (let j = 0; j < H; j++) {
      const r = sigmoid(gx[g0 + j] + gh[g0 + j]);
      const z = sigmoid(gx[g0 + H + j] + gh[g0 + H + j]);
      const n = Math.tanh(gx[g0 + 2 * H + j] + r * gh[g0 + 2 * H + j]);
      gates[g0 + j] = r;
      gates[g0 + H + j] = z;
      gates[g0 + 2 * H + j] = n;
      h[r0 + j] = (1 - z) * n + z * hPrev[r0 + j];
    }
  }
}

export function gruCellBackward(dgx: Arr, dgh: Arr, dhPrev: Arr, dh: Arr, gates: Arr, gh: Arr, hPrev: Arr, B: number, H: number, dh2: Arr | null = null): void {
  for (let b = 0; b < B; b++) {
    const g0 = b * 3 * H;
    const r0 = b * H;
    for (let j = 0; j < H; j++) {
      const r = gates[g0 + j], z = gates[g0 + H + j], n = gates[g0 + 2 * H + j];
      const d = dh2 ? dh[r0 + j] + dh2[r0 + j] : dh[r0 + j];
      const dnPre = d * (1 - z) * (1 - n * n);
      const dzPre = d * (hPrev[r0 + j] - n) * z * (1 - z);
      const drPre = dnPre * gh[g0 + 2 * H + j] * r * (1 - r);
      dgx[g0 + j] = drPre;
      dgx[g0 + H + j] = dzPre;
      dgx[g0 + 2 * H + j] = dnPre;
      dgh[g0 + j] = drPre;
      dgh[g0 + H + j] = dzPre;
      dgh[g0 + 2 * H + j] = dnPre * r;
      dhPrev[r0 + j] += d * z;
    }
  }
}

export function layerNormForward(y: Arr, xhat: Arr, rstd: Arr, x: Arr, gamma: Arr, beta: Arr | null, M: number, N: number): void {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    let mu = 0;
    for (let j = 0; j < N; j++) mu += x[o + j];
    mu /= N;
    let v = 0;
    for (let j = 0; j < N; j++) v += (x[o + j] - mu) * (x[o + j] - mu);
    const r = 1 / Math.sqrt(v / N + NORM_EPS);
    rstd[i] = r;
    for (let j = 0; j < N; j++) {
      const xh = (x[o + j] - mu) * r;
      xhat[o + j] = xh;
      y[o + j] = gamma[j] * xh + (beta ? beta[j] : 0);
    }
  }
}

export function layerNormBackward(dx: Arr, dgamma: Arr | null, dbeta: Arr | null, dy: Arr, xhat: Arr, rstd: Arr, gamma: Arr, M: number, N: number): void {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    let a = 0, b = 0;
    for (let j = 0; j < N; j++) {
      const g = gamma[j] * dy[o + j];
      a += g;
      b += g * xhat[o + j];
      if (dgamma) dgamma[j] += dy[o + j] * xhat[o + j];
      if (dbeta) dbeta[j] += dy[o + j];
    }
    a /= N;
    b /= N;
    const r = rstd[i];
    for (let j = 0; j < N; j++) dx[o + j] = r * (gamma[j] * dy[o + j] - a - xhat[o + j] * b);
  }
}

export function batchNormForward(y: Arr, xhat: Arr, rstd: Arr, runMean: Arr | null, runVar: Arr | null, x: Arr, gamma: Arr, beta: Arr | null, M: number, N: number, momentum: number): void {
  for (let j = 0; j < N; j++) {
    let mu = 0;
    for (let i = 0; i < M; i++) mu += x[i * N + j];
    mu /= M;
    let q = 0;
    for (let i = 0; i < M; i++) q += (x[i * N + j] - mu) * (x[i * N + j] - mu);
    const r = 1 / Math.sqrt(q / M + NORM_EPS);
    rstd[j] = r;
    for (let i = 0; i < M; i++) {
      const xh = (x[i * N + j] - mu) * r;
      xhat[i * N + j] = xh;
      y[i * N + j] = gamma[j] * xh + (beta ? beta[j] : 0);
    }
    if (runMean && runVar) {
      runMean[j] = momentum * mu + (1 - momentum) * runMean[j];
      runVar[j] = momentum * (M > 1 ? q / (M - 1) : q) + (1 - momentum) * runVar[j];
    }
  }
}

export function batchNormBackward(dx: Arr, dgamma: Arr | null, dbeta: Arr | null, dy: Arr, xhat: Arr, rstd: Arr, gamma: Arr, M: number, N: number): void {
  for (let j = 0; j < N; j++) {
    let sd = 0, sdx = 0;
    for (let i = 0; i < M; i++) {
      sd += dy[i * N + j];
      sdx += dy[i * N + j] * xhat[i * N + j];
    }
    if (dgamma) dgamma[j] += sdx;
    if (dbeta) dbeta[j] += sd;
    const a = (gamma[j] * sd) / M, b = (gamma[j] * sdx) / M, r = rstd[j];
    for (let i = 0; i < M; i++) dx[i * N + j] = r * (gamma[j] * dy[i * N + j] - a - xhat[i * N + j] * b);
  }
}

export function batchNormInfer(y: Arr, x: Arr, gamma: Arr, beta: Arr | null, runMean: Arr, runVar: Arr, M: number, N: number): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      y[i * N + j] = gamma[j] * ((x[i * N + j] - runMean[j]) / Math.sqrt(runVar[j] + NORM_EPS)) + (beta ? beta[j] : 0);
    }
  }
}

export function lstmNormCellForward(c: Arr, gates: Arr, cPrev: Arr, B: number, H: number, forget: boolean, gh: Arr | null = null): void {
  const G = forget ? 4 : 3;
  if (gh) for (let i = 0; i < G * B * H; i++) gates[i] += gh[i];
  for (let b = 0; b < B; b++) {
    const g0 = b * G * H, r = b * H;
    const gi = g0, gf = g0 + H, gg = g0 + (forget ? 2 : 1) * H, go = g0 + (forget ? 3 : 2) * H;
    for (let j = 0; j < H; j++) {
      const ig = sigmoid(gates[gi + j]);
      const fg = forget ? sigmoid(gates[gf + j]) : 1;
      const gv = Math.tanh(gates[gg + j]);
      gates[gi + j] = ig;
      if (forget) gates[gf + j] = fg;
      gates[gg + j] = gv;
      gates[go + j] = sigmoid(gates[go + j]);
      c[r + j] = fg * cPrev[r + j] + ig * gv;
    }
  }
}

export function lstmNormOutForward(h: Arr, tc: Arr, gates: Arr, B: number, H: number, forget: boolean): void {
  const G = forget ? 4 : 3;
  for (let b = 0; b < B; b++) {
    const go = b * G * H + (G - 1) * H, r = b * H;
    for (let j = 0; j < H; j++) {
      const t = Math.tanh(tc[r + j]);
      tc[r + j] = t;
      h[r + j] = gates[go + j] * t;
    }
  }
}

export function lstmNormOutBackward(dGates: Arr, dcn: Arr, dh: Arr, tc: Arr, gates: Arr, B: number, H: number, forget: boolean, dh2: Arr | null = null): void {
  const G = forget ? 4 : 3;
  for (let b = 0; b < B; b++) {
    const go = b * G * H + (G - 1) * H, r = b * H;
    for (let j = 0; j < H; j++) {
      const d = dh2 ? dh[r + j] + dh2[r + j] : dh[r + j];
      const og = gates[go + j], t = tc[r + j];
      dcn[r + j] = d * og * (1 - t * t);
      dGates[go + j] = d * t * og * (1 - og);
    }
  }
}

export function lstmNormCellBackward(dGates: Arr, dc: Arr, dcDirect: Arr, gates: Arr, cPrev: Arr, B: number, H: number, forget: boolean): void {
  const G = forget ? 4 : 3;
  for (let b = 0; b < B; b++) {
    const g0 = b * G * H, r = b * H;
    const gi = g0, gf = g0 + H, gg = g0 + (forget ? 2 : 1) * H;
    for (let j = 0; j < H; j++) {
      const ig = gates[gi + j], gv = gates[gg + j], fg = forget ? gates[gf + j] : 1;
      const dcv = dc[r + j] + dcDirect[r + j];
      dGates[gi + j] = dcv * gv * ig * (1 - ig);
      if (forget) dGates[gf + j] = dcv * cPrev[r + j] * fg * (1 - fg);
      dGates[gg + j] = dcv * ig * (1 - gv * gv);
      dc[r + j] = dcv * fg;
    }
  }
}

export function softmaxXent(dLogits: Arr | null, logits: Arr, targets: Int32Array, M: number, V: number, scale: number): number {
  let loss = 0;
  for (let i = 0; i < M; i++) {
    const o = i * V;
    const t = targets[i];
    if (t < 0) {
      if (dLogits) dLogits.fill(0, o, o + V);
      continue;
    }
    let mx = -Infinity;
    for (let v = 0; v < V; v++) if (logits[o + v] > mx) mx = logits[o + v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - mx);
    loss += Math.log(sum) - (logits[o + t] - mx);
    if (dLogits) {
      const inv = 1 / sum;
      for (let v = 0; v < V; v++) dLogits[o + v] = scale * Math.exp(logits[o + v] - mx) * inv;
      dLogits[o + t] -= scale;
    }
  }
  return loss;
}

// A packed right-hand side is just B[K×N] row-major (transposed when given as B[N×K]).
export const packedSize = (K: number, N: number): number => K * N;

export function packB(Bp: Arr, B: Arr, K: number, N: number, trans: boolean): void {
  if (trans) transpose(Bp, B, N, K, false);
  else for (let i = 0; i < K * N; i++) Bp[i] = B[i];
}

export function gemmNNPacked(C: Arr, A: Arr, Bp: Arr, M: number, N: number, K: number, acc: boolean): void {
  gemmNN(C, A, Bp, M, N, K, acc);
}

export function transpose(dst: Arr, src: Arr, M: number, N: number, acc: boolean): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) dst[j * M + i] = acc ? dst[j * M + i] + src[i * N + j] : src[i * N + j];
  }
}

export function addTo(y: Arr, x: Arr, n: number): void {
  for (let i = 0; i < n; i++) y[i] += x[i];
}

export function scale(x: Arr, s: number, n: number): void {
  for (let i = 0; i < n; i++) x[i] *= s;
}

export function sumSquares(x: Arr, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}

export function adam(p: Arr, m: Arr, v: Arr, g: Arr, n: number, stepSize: number, b1: number, b2: number, bc2Sqrt: number, eps: number, wd: number): void {
  for (let i = 0; i < n; i++) {
    const gi = wd ? g[i] + wd * p[i] : g[i];
    const mi = (m[i] = m[i] * b1 + (1 - b1) * gi);
    const vi = (v[i] = v[i] * b2 + (1 - b2) * gi * gi);
    p[i] -= stepSize * (mi / (Math.sqrt(vi) / bc2Sqrt + eps));
  }
}

function make(name: string, alloc: (n: number) => Arr): Kernels {
  return {
    name, alloc,
    shared: null, // plain JS arrays: nothing another thread could share
    startHelper: async () => {}, // no helper thread
    setHelper: () => {},
    gemmNN, gemmNT, gemmNTBias, gemmTNAcc, packedSize, packB, gemmNNPacked, gatherRows, scatterAddRows, addBias, biasBackward,
    transpose, addTo, scale, sumSquares, adam,
    rnnCellForward, rnnCellBackward, lstmCellForward, lstmCellBackward, lstmNoForgetCellForward, lstmNoForgetCellBackward,
    gruCellForward, gruCellBackward, layerNormForward, layerNormBackward, batchNormForward, batchNormBackward, batchNormInfer,
    lstmNormCellForward, lstmNormOutForward, lstmNormOutBackward, lstmNormCellBackward, softmaxXent,
  };
}

/** Reference kernels in float32 (same numerics as the fast path, in the same memory layout). */
export const refF32: Kernels = make("ref-f32", (n) => new Float32Array(n));
/** Reference kernels in float64: the gradient check runs here. */
export const refF64: Kernels = make("ref-f64", (n) => new Float64Array(n));
