// Buffers and weights of one recurrent layer, shared by the cells (src/model/cells/). Which buffers a layer
// gets follows from its cell's declaration: a history for each carried state, and the hidden projection
// either in a hot per-step scratch or kept for every step (Cell.hidden).
// N = T·B rows, time-major: row t·B + b is stream b at step t. G = the cell's gate count.
import type { Arr, Kernels } from "../kernels/types.ts";
import type { Cell, StateName } from "./cells/cell.ts";
import type { NormMode, RunningStats } from "./norm.ts";
import type { LayerViews } from "./params.ts";

/** wih [G·H × In], whh [G·H × H], bih, bhh [G·H]; with --norm also gih, ghh [G·H] (γ_x, γ_h) and, for a cell
 *  that carries c, gc, bc [H] (γ_c, β_c) */
export interface LayerWeights extends LayerViews {
  /** b_ih + b_hh [G·H], refreshed by pack() (the bias of cells whose hidden projection is summed) */
  bsum: Arr;
  /** W_hh [G·H × H] packed as the right-hand side of dGates[B×G·H] · W_hh (ops.packB), refreshed by pack() */
  whhP: Arr;
  /** --norm batch: the running statistics of each normalised quantity (buffers, not parameters) */
  stats?: LayerStats;
}

/** A layer's running statistics (batch norm): of the input and hidden projections [G·H], and of c_t [H] */
export interface LayerStats {
  ih: RunningStats;
  hh: RunningStats;
  c?: RunningStats;
}

/**
 * A normalised cell's buffers (--norm; cells/*-norm.ts). 1/σ holds rstdSize(B, n) values per step (norm.ts):
 * one per row (layer norm) or per column (batch norm).
 */
export interface NormBuffers {
  /** how the last forward pass normalised (model.forward sets it) */
  mode: NormMode;
  /** x̂ of the input projection of every step [N × G·H], and its 1/σ [T × rstdSize] */
  xhatX: Arr;
  rstdX: Arr;
  /** x̂ of the hidden projection of every step [N × G·H] — then, after backward, ∂L/∂(h_{t−1}·W_hhᵀ) before
   *  normalisation, in place — and its 1/σ [T × rstdSize] */
  xhatH: Arr;
  rstdH: Arr;
  /** cells that carry c: ĉ_t [N × H], its 1/σ, and tanh(γ_c ⊙ ĉ_t + β_c) [N × H] (h_t = o ⊙ it); else empty */
  xhatC: Arr;
  rstdC: Arr;
  tcs: Arr;
  // per-step views into the above, made once
  xhatHAt: Arr[]; // T × [B × G·H]
  rstdHAt: Arr[];
  xhatCAt: Arr[]; // T × [B × H]
  rstdCAt: Arr[];
  tcAt: Arr[]; // T × [B × H]
  /** backward scratch [B × H] (cells that carry c): ∂L/∂(γ_c ⊙ ĉ_t + β_c), then ∂L/∂c_t through h_t */
  dcn: Arr;
}

/** A buffer a cell does not use is empty (length 0), and so is its list of step views. */
export interface LayerBuffers {
  /** the gates of every step [N × G·H]: the input projection x·W_ihᵀ + bias (model.forward), then what the
   *  cell's forward leaves there (activations; rnn: pre-activations), then ∂L/∂(pre-activations) (backward,
   *  in place) */
  gates: Arr;
  /** hidden states [(T+1)·B × H]: block 0 = h0 carried in, block t+1 = h_t */
  hs: Arr;
  /** cell states, same layout as hs [(T+1)·B × H] (cells that carry c) */
  cs: Arr;
  /** h_{t−1}·W_hhᵀ + b_hh of every step, then its gradient in place [N × G·H] (Cell.hidden "kept") */
  hh: Arr;
  /** hot forward scratch [B × G·H]: h_{t−1}·W_hhᵀ of one step, added to the gates by the cell kernel
   *  (Cell.hidden "summed") */
  hhStep: Arr;
  // per-step views into the above, made once
  gatesAt: Arr[]; // T × [B × G·H]
  hAt: Arr[]; // (T+1) × [B × H]
  cAt: Arr[]; // (T+1) × [B × H]
  hhAt: Arr[]; // T × [B × G·H]
  /** backward scratch [B × H]: total ∂L/∂h_t (probe), carried ∂L/∂h_{t−1} */
  dh: Arr;
  dhNext: Arr;
  /** carried ∂L/∂c_t [B × H] (cells that carry c) */
  dc: Arr;
  /** a normalised cell's (Cell.norm), else null */
  norm: NormBuffers | null;
}

/** Splits a buffer of `count` blocks of `size` into views (made once, so no step allocates). */
export function blocks(buf: Arr, count: number, size: number): Arr[] {
  const r: Arr[] = [];
  for (let i = 0; i < count; i++) r.push(buf.subarray(i * size, (i + 1) * size));
  return r;
}

const stepViewCache = new WeakMap<Arr, { size: number; views: Arr[] }>();

/** a split into T blocks of `size` (the views are made once per array and block size, then reused) */
export function stepViews(a: Arr, T: number, size: number): Arr[] {
  const c = stepViewCache.get(a);
  if (c && c.size === size && c.views.length === T) return c.views;
  const views = blocks(a, T, size);
  stepViewCache.set(a, { size, views });
  return views;
}

export function layerBuffers(alloc: (n: number) => Arr, cell: Cell, B: number, T: number, H: number): LayerBuffers {
  const N = T * B, GH = cell.gates.length * H;
  const carriesC = cell.state.includes("c"), kept = cell.hidden === "kept";
  const gates = alloc(N * GH);
  const hs = alloc((T + 1) * B * H);
  const cs = alloc(carriesC ? (T + 1) * B * H : 0);
  const hh = alloc(kept ? N * GH : 0);
  return {
    gates, hs, cs, hh,
    gatesAt: blocks(gates, T, B * GH),
    hAt: blocks(hs, T + 1, B * H),
    cAt: carriesC ? blocks(cs, T + 1, B * H) : [],
    hhAt: kept ? blocks(hh, T, B * GH) : [],
    hhStep: alloc(kept ? 0 : B * GH),
    dh: alloc(B * H),
    dhNext: alloc(B * H),
    dc: alloc(carriesC ? B * H : 0),
    norm: cell.norm ? normBuffers(alloc, cell, B, T, H) : null,
  };
}

function normBuffers(alloc: (n: number) => Arr, cell: Cell, B: number, T: number, H: number): NormBuffers {
  const N = T * B, GH = cell.gates.length * H, norm = cell.norm!;
  const rG = norm.rstdSize(B, GH), rH = norm.rstdSize(B, H), c = cell.state.includes("c") ? 1 : 0;
  const xhatH = alloc(N * GH), rstdH = alloc(T * rG), xhatC = alloc(c * N * H), rstdC = alloc(c * T * rH), tcs = alloc(c * N * H);
  return {
    mode: { batchStats: false, updateStats: false },
    xhatX: alloc(N * GH), rstdX: alloc(T * rG), xhatH, rstdH, xhatC, rstdC, tcs,
    xhatHAt: blocks(xhatH, T, B * GH),
    rstdHAt: blocks(rstdH, T, rG),
    xhatCAt: c ? blocks(xhatC, T, B * H) : [],
    rstdCAt: c ? blocks(rstdC, T, rH) : [],
    tcAt: c ? blocks(tcs, T, B * H) : [],
    dcn: alloc(c * B * H),
  };
}

/** The per-step views of a carried state's history: block 0 = carried in, block t+1 = after step t. */
export function stateAt(L: LayerBuffers, s: StateName): Arr[] {
  return s === "h" ? L.hAt : L.cAt;
}

/** Diagnostics only (the layers' `probe`): total ∂L/∂h_t = dOt + dhNext into L.dh, shown to the probe as step t+1. */
export function probeDh(L: LayerBuffers, dOt: Arr, t: number, n: number, probe: (t: number, dh: Arr) => void): Arr {
  for (let i = 0; i < n; i++) L.dh[i] = dOt[i] + L.dhNext[i];
  probe(t + 1, L.dh);
  return L.dh;
}

/**
 * Backpropagation through the T steps of a layer whose hidden projection is summed into its gates (rnn, lstm,
 * lstm without forget gate). For t = T−1 … 0, `cellStep(t, dh, dh2)` runs the cell's backward kernel, which
 * turns step t's gates into ∂L/∂gates in place given ∂L/∂h_t = dh (+ dh2, the part carried from step t+1,
 * which the kernel adds itself; null at the last step, or when a probe has summed it already); then
 * ∂L/∂h_{t−1} = ∂L/∂(hidden projection)_t [B×G·H] · W_hh [G·H×H] into L.dhNext, where that gradient is
 * dHiddenAt[t]: the gates' own (default), or where a normalised cell's cellStep left it (before the
 * normalisation). The gradient into h_0 is dropped (truncated BPTT) unless a probe (diagnostics) asks for it.
 */
export function summedBackward(
  ops: Kernels, L: LayerBuffers, W: LayerWeights, dOut: Arr, B: number, T: number, H: number, G: number,
  cellStep: (t: number, dh: Arr, dh2: Arr | null) => void, probe?: (t: number, dh: Arr) => void, dHiddenAt: Arr[] = L.gatesAt,
): void {
  const dO = stepViews(dOut, T, B * H); // ∂L/∂h_t from above, per step [B×H] (read only)
  L.dhNext.fill(0);
  for (let t = T - 1; t >= 0; t--) {
    // total ∂L/∂h_t = dO[t] + the part carried from step t+1 (dhNext), summed inside the cell kernel
    let dh = dO[t], dh2: Arr | null = t < T - 1 ? L.dhNext : null;
    if (probe) {
      dh = probeDh(L, dh, t, B * H, probe);
      dh2 = null;
    }
    cellStep(t, dh, dh2);
    if (t > 0 || probe) ops.gemmNNPacked(L.dhNext, dHiddenAt[t], W.whhP, B, H, G * H, false); // [B×H] = dGates[B×GH] · W_hh[GH×H]
  }
  if (probe) probe(0, L.dhNext); // ∂L/∂h_0, the carried-in state (dropped when not probed)
}
