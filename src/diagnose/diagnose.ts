// Diagnostics of vanishing and exploding gradients (`rnn diagnose`). A library: returns numbers, never prints.
//
// Gradient decay through time. The gradient of a late loss with respect to an early state is a product of
// step Jacobians, ∂h_T/∂h_{T−k} = ∏ ∂h_{s+1}/∂h_s, and for the plain RNN each factor is diag(act′)·W_hh: when
// those factors shrink vectors the product vanishes exponentially in k, when they stretch them it explodes.
// diagnose() runs ONE chunk of T steps over B streams from a zero state, scores only the LAST step
// (L_T = mean over the B streams of the cross-entropy of step T; every other target is −1, i.e. unscored),
// backpropagates, and records for every layer
//   gradNorm[k] = ‖∂L_T/∂h_{T−k}‖,  k = 0…T,
// the Frobenius norm over the whole [B × H] state (h_0 is the carried-in state). gradNorm[k] is the total
// gradient: for the top layer at k = 0 it is the direct decoder path; below the top, it includes every path
// through the layers above. decayPerStep = exp(slope) of a least-squares line through ln gradNorm[k],
// k = 1…T (r2: how straight that line is — 1 for a pure exponential).
//
// Spectral norms: the singular values (largest and smallest) of each layer's weight_hh [G·H × H] and of each
// of its H × H gate blocks, from the eigenvalues of WᵀW in float64. An orthogonal block has all
// singular values 1; blockGap is the largest |σ − 1| over a layer's blocks (what --ortho-opt cayley holds at 0).
//
// Saturation: over the chunk's T·B·H units, the share of each activation the cell exposes (Cell.watched:
// its gates, and for the LSTM tanh c) where its derivative nearly vanishes:
//   σ gates (lstm i, f, o; gru r, z):  σ < 0.01 ("low") or σ > 0.99 ("high"), i.e. |σ − ½| > 0.49
//   tanh (rnn h, lstm g and tanh c, gru n):  tanh < −0.98 or > 0.98  (derivative < 0.04)
//   relu (rnn-relu h):  h = 0 ("low": a dead unit passes no gradient)
//
// The carried state (stateRun). Training carries the state from chunk to chunk of one continuous stream;
// a cell state can drift over such a run in a way one chunk from a zero state never shows (the LSTM without
// forget gate sums c_t = c_{t−1} + i ⊙ g for ever). stateRun() runs `chunks` consecutive chunks of T steps
// over B streams, forward only, carrying the state exactly as training and `rnn eval` do, and records per
// layer ‖c_t‖ for t = 0…chunks·T — the L2 norm of one stream's cell state [H], the mean over the B streams —,
// the mean cross-entropy of each chunk, and the saturation shares (above) of the last chunk.
//
// --norm batch: the one chunk normalises with its own statistics over the B streams, as training does (its
// running estimates stay as they are); the carried-state run with the running estimates, as rnn eval does.
import { RnnError } from "../errors.ts";
import type { Arr } from "../kernels/types.ts";
import type { Nonlinearity } from "../model/cells/cell.ts";
import { type CellChoice, cellOf } from "../model/cells/index.ts";
import { createState, createWorkspace, forward, type ForwardResult, type Model, type State, type Workspace } from "../model/model.ts";
import { tensorNames } from "../model/params.ts";

export interface DiagnoseOptions {
  /** steps in the chunk */
  T: number;
  /** parallel streams, starting at evenly spread offsets of the text */
  B: number;
}

export interface Saturation {
  name: string;
  /** the rule applied, e.g. "|σ−0.5|>0.49" */
  rule: string;
  /** share of units saturated low / high / either */
  low: number;
  high: number;
  share: number;
}

export interface Spectral {
  /** "W_hh" (the whole matrix) or a gate name */
  name: string;
  /** largest and smallest singular value */
  max: number;
  min: number;
}

export interface LayerDiagnosis {
  layer: number;
  /** ‖∂L_T/∂h_{T−k}‖ for k = 0…T */
  gradNorm: number[];
  /** exp(slope) of ln gradNorm[k] over k = 1…T; < 1 vanishing, > 1 exploding */
  decayPerStep: number;
  /** coefficient of determination of that fit */
  r2: number;
  spectral: Spectral[];
  /** max |σ − 1| over the σmax and σmin of the layer's H × H gate blocks (of W_hh itself when G = 1): 0 = orthogonal */
  blockGap: number;
  saturation: Saturation[];
}

export interface StateRun {
  /** consecutive chunks of T steps, the state carried from one to the next, from a zero state */
  chunks: number;
  /** chunks · T */
  steps: number;
  /** per layer, ‖c_t‖ for t = 0…steps (mean over the streams of the L2 norm); null: the cell carries no c */
  cNorm: number[][] | null;
  /** mean cross-entropy of each chunk (nats) */
  loss: number[];
  /** per layer, the saturation shares of the last chunk */
  saturation: Saturation[][];
}

export interface Diagnosis {
  T: number;
  B: number;
  /** L_T: mean cross-entropy of the last step over the B streams (nats) */
  lastLoss: number;
  layers: LayerDiagnosis[];
}

/** Gate names of a cell, in the row order of weight_hh (its table entry, src/model/cells/). */
export function gateNames(m: CellChoice): readonly string[] {
  return cellOf(m).gates;
}

/** Offsets of B streams of T+1 characters spread evenly over n characters (they overlap when n is short). */
export function streamStarts(n: number, B: number, T: number): number[] {
  if (n < T + 1) throw new RnnError(`the text has ${n} characters; diagnose needs at least T+1 = ${T + 1} (lower --seq)`);
  const span = n - (T + 1);
  return Array.from({ length: B }, (_, b) => (B === 1 ? 0 : Math.floor((b * span) / (B - 1))));
}

export function diagnose(m: Model, ids: ArrayLike<number>, opts: DiagnoseOptions): Diagnosis {
  const { T, B } = opts;
  const { hidden: H, vocabSize: V } = m.cfg;
  const ws = createWorkspace(m, B, T, { grad: true, dropout: false });
  const starts = streamStarts(ids.length, B, T);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const i = t * B + b; // time-major
      ws.idx[i] = ids[starts[b] + t];
      ws.targets[i] = t === T - 1 ? ids[starts[b] + t + 1] : -1; // score the last step only
      if (ws.idx[i] < 0 || ws.idx[i] >= V || (t === T - 1 && ws.targets[i] >= V)) throw new RnnError(`character id out of the model's vocabulary at offset ${starts[b] + t}`);
    }
  }
  const state = createState(m, B);
  const gradNorms = m.layers.map(() => new Array<number>(T + 1).fill(0));
  let saturation: Saturation[][] = [];
  const r = probeBackward(m, ws, state, (l, s, dh) => {
    let q = 0;
    for (let i = 0; i < dh.length; i++) q += dh[i] * dh[i];
    gradNorms[l][T - s] = Math.sqrt(q);
  }, () => { saturation = m.layers.map((_, l) => layerSaturation(m, ws, l)); });
  const layers = m.layers.map((L, l): LayerDiagnosis => {
    const { factor, r2 } = fitExponential(gradNorms[l], 1);
    const spectral: Spectral[] = [];
    const G = gateNames(m.cfg).length;
    const full = singularValues(L.whh, G * H, H);
    spectral.push({ name: "W_hh", max: full[0], min: full[H - 1] });
    if (G > 1) {
      gateNames(m.cfg).forEach((name, g) => {
        const sv = singularValues(L.whh.subarray(g * H * H, (g + 1) * H * H), H, H);
        spectral.push({ name, max: sv[0], min: sv[H - 1] });
      });
    }
    const blocks = G > 1 ? spectral.slice(1) : spectral;
    const blockGap = Math.max(...blocks.map((s) => Math.max(Math.abs(s.max - 1), Math.abs(s.min - 1))));
    return { layer: l, gradNorm: gradNorms[l], decayPerStep: factor, r2, spectral, blockGap, saturation: saturation[l] };
  });
  return { T, B, lastLoss: r.count ? r.lossSum / r.count : NaN, layers };
}

/**
 * The carried-state run (see the header): `chunks` consecutive chunks of T steps over B streams at evenly
 * spread offsets of the text, from a zero state. Fewer chunks when the text is too short for them all.
 */
export function stateRun(m: Model, ids: ArrayLike<number>, opts: DiagnoseOptions & { chunks: number }): StateRun {
  const { T, B } = opts, { hidden: H, vocabSize: V } = m.cfg;
  const chunks = Math.max(1, Math.min(opts.chunks, Math.floor((ids.length - 1) / T)));
  const steps = chunks * T;
  const starts = streamStarts(ids.length, B, steps);
  const ws = createWorkspace(m, B, T, { grad: false, dropout: false });
  const state = createState(m, B);
  const cNorm = state.c.length ? m.layers.map(() => [0]) : null;
  const loss: number[] = [];
  let saturation: Saturation[][] = [];
  for (let k = 0; k < chunks; k++) {
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const at = starts[b] + k * T + t, i = t * B + b; // time-major
        ws.idx[i] = ids[at];
        ws.targets[i] = ids[at + 1];
        if (ws.idx[i] < 0 || ws.idx[i] >= V || ws.targets[i] < 0 || ws.targets[i] >= V) throw new RnnError(`character id out of the model's vocabulary at offset ${at}`);
      }
    }
    const r = forward(m, ws, state, { grad: false });
    loss.push(r.lossSum / r.count);
    if (cNorm) {
      ws.layers.forEach((Lb, l) => {
        for (let t = 1; t <= T; t++) {
          const c = Lb.cAt[t];
          let sum = 0;
          for (let b = 0; b < B; b++) {
            let q = 0;
            for (let j = 0; j < H; j++) q += c[b * H + j] ** 2;
            sum += Math.sqrt(q);
          }
          cNorm[l].push(sum / B);
        }
      });
    }
    if (k === chunks - 1) saturation = m.layers.map((_, l) => layerSaturation(m, ws, l));
  }
  return { chunks, steps, cNorm, loss, saturation };
}

/**
 * forward(grad) of the chunk in ws (idx / targets filled by the caller) from `state`, then the backward pass
 * through the decoder and every layer, calling onGrad(layer, s, dh) with the total ∂L/∂h_s [B × H] for
 * s = T…0 of each layer (top layer first). afterForward runs between the two passes, while the workspace
 * still holds the activations. Parameter gradients are not accumulated. Dropout is off.
 */
export function probeBackward(
  m: Model, ws: Workspace, state: State,
  onGrad: (layer: number, s: number, dh: Arr) => void,
  afterForward?: () => void,
): ForwardResult {
  const ops = m.ops, cell = cellOf(m.cfg), { hidden: H, vocabSize: V, residual } = m.cfg;
  const B = ws.B, T = ws.T, N = B * T, GH = cell.gates.length * H;
  const r = forward(m, ws, state, { grad: true, training: true, updateStats: false });
  afterForward?.();
  let dOut = ws.dA, dIn = ws.dB;
  ops.gemmNN(dOut, ws.dLogits, m.params.views[tensorNames.decoderWeight], N, H, V, false); // dTop[N×H] = dLogits · W_dec
  for (let l = m.layers.length - 1; l >= 0; l--) {
    const W = m.layers[l], Lb = ws.layers[l];
    cell.backward(ops, Lb, W, null, dOut, B, T, H, m.cfg, (s, dh) => onGrad(l, s, dh));
    if (l > 0) {
      // into the layer below: dIn[N×H] = dX[N×GH] · W_ih[GH×H] (+ the residual path)
      ops.gemmNN(dIn, Lb.gates, W.wih, N, H, GH, false);
      if (residual) for (let i = 0; i < N * H; i++) dIn[i] += dOut[i];
      const t = dOut;
      dOut = dIn;
      dIn = t;
    }
  }
  return r;
}

/** How each nonlinearity saturates (see the header): the rule shown, and the low and high ends. */
const RULES: Record<Nonlinearity, { rule: string; low: (v: number) => boolean; high: (v: number) => boolean }> = {
  sigmoid: { rule: "|σ−0.5|>0.49", low: (v) => v < 0.01, high: (v) => v > 0.99 },
  tanh: { rule: "|tanh|>0.98", low: (v) => v < -0.98, high: (v) => v > 0.98 },
  relu: { rule: "relu h=0", low: (v) => v <= 0, high: () => false },
};

/** Saturation shares of layer l's activations after a forward pass (see the header for the rules). */
export function layerSaturation(m: Model, ws: Workspace, l: number): Saturation[] {
  const H = m.cfg.hidden, B = ws.B, N = B * ws.T;
  return cellOf(m.cfg).watched(ws.layers[l], B, H, m.cfg).map(({ name, fn, at }) => {
    const { rule, low, high } = RULES[fn];
    let lo = 0, hi = 0;
    for (let n = 0; n < N; n++) for (let j = 0; j < H; j++) {
      const v = at(n, j);
      if (low(v)) lo++;
      else if (high(v)) hi++;
    }
    const tot = N * H;
    return { name, rule, low: lo / tot, high: hi / tot, share: (lo + hi) / tot };
  });
}

/** Least-squares fit of ln y[k] = a + k·ln(factor) over k ≥ from (non-positive or non-finite y skipped). */
export function fitExponential(y: number[], from = 0): { factor: number; r2: number } {
  const xs: number[] = [], ls: number[] = [];
  for (let k = from; k < y.length; k++) if (y[k] > 0 && Number.isFinite(y[k])) { xs.push(k); ls.push(Math.log(y[k])); }
  const n = xs.length;
  if (n < 2) return { factor: NaN, r2: NaN };
  const mx = xs.reduce((a, b) => a + b, 0) / n, my = ls.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ls[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ls[i] - my) ** 2;
  }
  const slope = sxy / sxx;
  return { factor: Math.exp(slope), r2: syy > 0 ? (sxy * sxy) / (sxx * syy) : 1 };
}

/**
 * Singular values of W [rows × cols] (row-major), largest first: square roots of the eigenvalues of WᵀW
 * [cols × cols], in float64 (Householder tridiagonalisation, then implicit QL; O(cols³), no eigenvectors).
 */
export function singularValues(W: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const n = cols;
  const A = new Float64Array(n * n); // [n × n] WᵀW
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let i = 0; i < n; i++) {
      const wi = W[o + i];
      if (wi === 0) continue;
      for (let j = i; j < n; j++) A[i * n + j] += wi * W[o + j];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) A[i * n + j] = A[j * n + i];
  const ev = symmetricEigenvalues(A, n);
  const sv = ev.map((v) => Math.sqrt(Math.max(0, v)));
  return sv.sort().reverse();
}

/** Eigenvalues of a symmetric matrix A [n × n] (overwritten), unsorted. */
export function symmetricEigenvalues(A: Float64Array, n: number): Float64Array {
  const d = new Float64Array(n), e = new Float64Array(n); // diagonal, off-diagonal (e[i] couples i and i+1)
  const v = new Float64Array(n), w = new Float64Array(n);
  // Householder: A ← H A H zeroes column k below the subdiagonal, for k = 0…n−3
  for (let k = 0; k < n - 2; k++) {
    const m = n - k - 1; // size of the trailing block, rows/cols k+1…n−1
    let norm = 0;
    for (let i = 0; i < m; i++) norm += A[(k + 1 + i) * n + k] ** 2;
    norm = Math.sqrt(norm);
    d[k] = A[k * n + k];
    if (norm === 0) { e[k] = 0; continue; }
    const x0 = A[(k + 1) * n + k];
    const alpha = x0 >= 0 ? -norm : norm;
    e[k] = alpha;
    for (let i = 0; i < m; i++) v[i] = A[(k + 1 + i) * n + k];
    v[0] -= alpha;
    let vn = 0;
    for (let i = 0; i < m; i++) vn += v[i] * v[i];
    vn = Math.sqrt(vn);
    if (vn === 0) continue;
    for (let i = 0; i < m; i++) v[i] /= vn;
    // p = A22 v, κ = vᵀp, w = p − κ v, A22 −= 2 (v wᵀ + w vᵀ)
    let kappa = 0;
    for (let i = 0; i < m; i++) {
      const row = (k + 1 + i) * n + k + 1;
      let s = 0;
      for (let j = 0; j < m; j++) s += A[row + j] * v[j];
      w[i] = s;
      kappa += v[i] * s;
    }
    for (let i = 0; i < m; i++) w[i] -= kappa * v[i];
    for (let i = 0; i < m; i++) {
      const row = (k + 1 + i) * n + k + 1, vi = v[i], wi = w[i];
      for (let j = 0; j < m; j++) A[row + j] -= 2 * (vi * w[j] + wi * v[j]);
    }
  }
  if (n >= 2) {
    d[n - 2] = A[(n - 2) * n + n - 2];
    e[n - 2] = A[(n - 1) * n + n - 2];
  }
  d[n - 1] = A[(n - 1) * n + n - 1];
  e[n - 1] = 0;
  // implicit QL with Wilkinson shifts on the tridiagonal (d, e)
  for (let l = 0; l < n; l++) {
    let iter = 0, m: number;
    do {
      for (m = l; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= Number.EPSILON * dd) break;
      }
      if (m !== l) {
        if (iter++ === 100) throw new Error("symmetricEigenvalues: no convergence");
        let g = (d[l + 1] - d[l]) / (2 * e[l]);
        let r = Math.hypot(g, 1);
        g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
        let s = 1, c = 1, p = 0, i: number;
        for (i = m - 1; i >= l; i--) {
          const f = s * e[i], b = c * e[i];
          e[i + 1] = r = Math.hypot(f, g);
          if (r === 0) {
            d[i + 1] -= p;
            e[m] = 0;
            break;
          }
          s = f / r;
          c = g / r;
          g = d[i + 1] - p;
          r = (d[i] - g) * s + 2 * c * b;
          p = s * r;
          d[i + 1] = g + p;
          g = c * r - b;
        }
        if (r === 0 && i >= l) continue;
        d[l] -= p;
        e[l] = g;
        e[m] = 0;
      }
    } while (m !== l);
  }
  return d;
}
