// Parameter initialisation. Tensors are filled in spec order (params.ts), each in row-major order, from the
// run's one seeded stream, so a seed fixes the model.
//
// --init pytorch: exactly PyTorch's (the same distributions; the draws come from rnn's own generator):
//   nn.RNN / nn.LSTM / nn.GRU: every weight and bias ~ U(−1/√H, 1/√H)
//   nn.Linear(H, V) (decoder): weight and bias ~ U(−1/√H, 1/√H)  (kaiming_uniform(a=√5) with fan_in = H)
//   nn.Embedding(V, E): weight ~ N(0, 1)
// --init xavier: Glorot/Xavier uniform U(−a, a), a = √(6 / (fan_in + fan_out)), for every weight matrix, taken
//   per gate block (fan_out = H for each of the G blocks of weight_ih [G·H × In] and weight_hh [G·H × H];
//   the decoder [V × H] has fan_in H, fan_out V). Every bias 0. Embedding N(0, 1) as PyTorch.
// --init orthogonal (the default, as Keras's recurrent layers): as xavier, except each H × H gate block of weight_hh is a random orthogonal matrix
//   (W_gᵀ W_g = I): the Q of a Householder QR, in float64, of a matrix of N(0, 1) draws, with the signs of
//   R's diagonal moved into Q so Q is uniformly (Haar) distributed — torch.nn.init.orthogonal_.
// --forget-bias B (cells with a forget gate "f": the LSTM): after the draws, the forget-gate block of bias_ih is
//   set to B and that of bias_hh to 0, so the forget gate's total bias b_ih + b_hh is B (torch-rnn's single
//   bias). It defaults to 1 with xavier and orthogonal (resolveTrainConfig); with pytorch init the drawn
//   biases stay unless the flag is given.
//
// --norm, with every --init: the gains γ of the normalisations start at the normalisation's own value (1 for
//   layer norm, 0.1 for batch norm, as Cooijmans et al. recommend), β_c at 0; they take no draws.
//
// The pytorch path draws exactly what it always drew (checkpoints are deterministic by seed); the forget bias
// is written after all draws, so it never shifts the stream.
import type { TrainConfig } from "../config.ts";
import type { Arr } from "../kernels/types.ts";
import type { Rng } from "../rng.ts";
import { cellOf, forgetGate, gateCount } from "./cells/index.ts";
import type { Model } from "./model.ts";
import { pack } from "./model.ts";
import { layerTensorOf, normTensorOf, tensorNames } from "./params.ts";

export function initParams(m: Model, cfg: Pick<TrainConfig, "init" | "forgetBias">, rng: Rng): void {
  const H = m.cfg.hidden, G = gateCount(m.cfg), norm = cellOf(m.cfg).norm;
  if (cfg.init === "pytorch") {
    const k = 1 / Math.sqrt(H);
    for (const t of m.spec.tensors) {
      const w = m.params.views[t.name], nt = normTensorOf(t.name);
      if (nt) w.fill(nt === "bc" ? 0 : norm!.gain);
      else if (t.name === tensorNames.embedding) for (let i = 0; i < w.length; i++) w[i] = rng.normal();
      else for (let i = 0; i < w.length; i++) w[i] = rng.uniform(-k, k);
    }
  } else {
    for (const t of m.spec.tensors) {
      const w = m.params.views[t.name], lt = layerTensorOf(t.name), nt = normTensorOf(t.name);
      if (nt) w.fill(nt === "bc" ? 0 : norm!.gain);
      else if (t.name === tensorNames.embedding) for (let i = 0; i < w.length; i++) w[i] = rng.normal();
      else if (lt === "whh" && cfg.init === "orthogonal") {
        for (let g = 0; g < G; g++) randomOrthogonal(w.subarray(g * H * H, (g + 1) * H * H), H, rng);
      } else if (lt === "wih" || lt === "whh") {
        // [G·H × In]: G blocks of H rows, each with fan_in In, fan_out H
        const In = t.shape[1];
        xavierUniform(w, In, H, rng);
      } else if (t.name === tensorNames.decoderWeight) {
        xavierUniform(w, H, m.cfg.vocabSize, rng);
      } else w.fill(0); // biases
    }
  }
  const f = forgetGate(m.cfg);
  if (cfg.forgetBias !== null && f >= 0) {
    // the forget gate's block of rows [f·H, (f+1)·H) in the cell's gate layout
    for (const L of m.layers) {
      L.bih.fill(cfg.forgetBias, f * H, (f + 1) * H);
      L.bhh.fill(0, f * H, (f + 1) * H);
    }
  }
  pack(m);
}

/** w ~ U(−a, a), a = √(6 / (fanIn + fanOut)), row-major. */
export function xavierUniform(w: Arr, fanIn: number, fanOut: number, rng: Rng): void {
  const a = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < w.length; i++) w[i] = rng.uniform(-a, a);
}

/** out[n × n] = a Haar-random orthogonal matrix: Q of the QR of n² N(0, 1) draws (row-major), sign-fixed. */
export function randomOrthogonal(out: Arr, n: number, rng: Rng): void {
  const A = new Float64Array(n * n); // [n × n]
  for (let i = 0; i < n * n; i++) A[i] = rng.normal();
  const Q = new Float64Array(n * n); // [n × n]
  householderQ(Q, A, n);
  out.set(Q);
}

/**
 * Q[n × n] of A = QR (Householder, float64), with Q's columns multiplied by sign(R_jj) so that R has a
 * positive diagonal (this makes Q unique, and Haar-distributed for Gaussian A). A is overwritten by R.
 */
export function householderQ(Q: Float64Array, A: Float64Array, n: number): void {
  const vs: Float64Array[] = []; // Householder vectors, v_j has entries j..n-1 (zero above)
  const dots = new Float64Array(n); // [n] scratch
  const v = (j: number) => vs[j];
  for (let j = 0; j < n; j++) {
    const vj = new Float64Array(n);
    let norm = 0;
    for (let i = j; i < n; i++) norm += A[i * n + j] * A[i * n + j];
    norm = Math.sqrt(norm);
    const x0 = A[j * n + j];
    const alpha = x0 >= 0 ? -norm : norm; // reflect x onto alpha·e_j, sign chosen against cancellation
    for (let i = j; i < n; i++) vj[i] = A[i * n + j];
    vj[j] -= alpha;
    let vv = 0;
    for (let i = j; i < n; i++) vv += vj[i] * vj[i];
    vs.push(vj);
    if (vv === 0) continue; // column already zero below the diagonal
    reflect(A, vj, vv, j, j, n, dots); // A ← (I − 2 v vᵀ / vᵀv) A, columns j..n-1
  }
  // Q = H_0 H_1 … H_{n−1} · I: apply the reflections to I from the last one back
  Q.fill(0);
  for (let i = 0; i < n; i++) Q[i * n + i] = 1;
  for (let j = n - 1; j >= 0; j--) {
    const vj = v(j);
    let vv = 0;
    for (let i = j; i < n; i++) vv += vj[i] * vj[i];
    if (vv === 0) continue;
    reflect(Q, vj, vv, j, 0, n, dots);
  }
  // sign fix: Q ← Q·D, R ← D·R with D = diag(sign R_jj)
  for (let j = 0; j < n; j++) {
    if (A[j * n + j] >= 0) continue;
    for (let i = 0; i < n; i++) Q[i * n + j] = -Q[i * n + j];
    for (let c = 0; c < n; c++) A[j * n + c] = -A[j * n + c];
  }
}

/** M[n × n] ← (I − 2 v vᵀ / vv) M on rows j..n−1 and columns c0..n−1, row by row (contiguous access). */
function reflect(M: Float64Array, v: Float64Array, vv: number, j: number, c0: number, n: number, dots: Float64Array): void {
  dots.fill(0, c0, n);
  for (let i = j; i < n; i++) {
    const vi = v[i], row = i * n;
    if (vi !== 0) for (let c = c0; c < n; c++) dots[c] += vi * M[row + c];
  }
  const f = 2 / vv;
  for (let i = j; i < n; i++) {
    const fv = f * v[i], row = i * n;
    if (fv !== 0) for (let c = c0; c < n; c++) M[row + c] -= fv * dots[c];
  }
}
