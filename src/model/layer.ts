// Buffers and weights of one recurrent layer, shared by the cells (src/model/cells/). Which buffers a layer
// gets follows from its cell's declaration: a history for each carried state, and the hidden projection
// either in a hot per-step scratch or kept for every step (Cell.hidden).
// N = T·B rows, time-major: row t·B + b is stream b at step t. G = the cell's gate count.
import type { Arr, Kernels } from "../kernels/types.ts";
import type { Cell, StateName } from "./cells/cell.ts";

export interface LayerWeights {
  wih: Arr; // [G·H × In]
  whh: Arr; // [G·H × H]
  bih: Arr; // [G·H]
  bhh: Arr; // [G·H]
  /** b_ih + b_hh [G·H], refreshed by pack() (the bias of cells whose hidden projection is summed) */
  bsum: Arr;
  /** W_hh [G·H × H] packed as the right-hand side of dGates[B×G·H] · W_hh (ops.packB), refreshed by pack() */
  whhP: Arr;
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
 * ∂L/∂h_{t−1} = ∂L/∂gates_t [B×G·H] · W_hh [G·H×H] into L.dhNext. The gradient into h_0 is dropped (truncated
 * BPTT) unless a probe (diagnostics) asks for it.
 */
export function summedBackward(
  ops: Kernels, L: LayerBuffers, W: LayerWeights, dOut: Arr, B: number, T: number, H: number, G: number,
  cellStep: (t: number, dh: Arr, dh2: Arr | null) => void, probe?: (t: number, dh: Arr) => void,
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
    if (t > 0 || probe) ops.gemmNNPacked(L.dhNext, L.gatesAt[t], W.whhP, B, H, G * H, false); // [B×H] = dGates[B×GH] · W_hh[GH×H]
  }
  if (probe) probe(0, L.dhNext); // ∂L/∂h_0, the carried-in state (dropped when not probed)
}
