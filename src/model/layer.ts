// Buffers and weights of one recurrent layer, shared by the three cell files (rnn.ts, lstm.ts, gru.ts).
// N = T·B rows, time-major: row t·B + b is stream b at step t. G = gates (rnn 1, gru 3, lstm 4).
import type { Arr } from "../kernels/types.ts";

export interface LayerWeights {
  wih: Arr; // [G·H × In]
  whh: Arr; // [G·H × H]
  bih: Arr; // [G·H]
  bhh: Arr; // [G·H]
  /** b_ih + b_hh [G·H], refreshed by pack() (rnn and lstm add both biases up front) */
  bsum: Arr;
  /** W_hh [G·H × H] packed as the right-hand side of dGates[B×G·H] · W_hh (ops.packB), refreshed by pack() */
  whhP: Arr;
}

export interface LayerBuffers {
  /** pre-activations then activations (forward), then ∂L/∂pre-activations (backward, in place) [N × G·H] */
  P: Arr;
  /** hidden states, block 0 = h0 carried in, block t+1 = h_t  [(T+1)·B × H] */
  Hs: Arr;
  /** lstm: cell states, same layout as Hs [(T+1)·B × H] */
  Cs: Arr | null;
  /** gru: h_{t-1}·W_hhᵀ + b_hh per step, then its gradient in place [N × 3H] */
  GH: Arr | null;
  // per-step views into the above, made once
  Pt: Arr[]; // T × [B × G·H]
  Ht: Arr[]; // (T+1) × [B × H]
  Ct: Arr[]; // (T+1) × [B × H]   (lstm)
  GHt: Arr[]; // T × [B × 3H]      (gru)
  /** forward scratch [B × G·H]: h_{t-1}·W_hhᵀ of one step (rnn, lstm), added to P by the cell kernel */
  G: Arr;
  /** backward scratch [B × H]: total ∂L/∂h_t, carried ∂L/∂h_{t-1}, carried ∂L/∂c_t (lstm) */
  dh: Arr;
  dhNext: Arr;
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

export function layerBuffers(alloc: (n: number) => Arr, G: number, B: number, T: number, H: number, cell: "rnn" | "lstm" | "gru"): LayerBuffers {
  const N = T * B;
  const P = alloc(N * G * H);
  const Hs = alloc((T + 1) * B * H);
  const Cs = cell === "lstm" ? alloc((T + 1) * B * H) : null;
  const GH = cell === "gru" ? alloc(N * 3 * H) : null;
  return {
    P, Hs, Cs, GH,
    Pt: blocks(P, T, B * G * H),
    Ht: blocks(Hs, T + 1, B * H),
    Ct: Cs ? blocks(Cs, T + 1, B * H) : [],
    GHt: GH ? blocks(GH, T, B * 3 * H) : [],
    G: alloc(cell === "gru" ? 0 : B * G * H),
    dh: alloc(B * H),
    dhNext: alloc(B * H),
    dc: alloc(B * H),
  };
}

/** Diagnostics only (the layers' `probe`): total ∂L/∂h_t = dOt + dhNext into L.dh, shown to the probe as step t+1. */
export function probeDh(L: LayerBuffers, dOt: Arr, t: number, n: number, probe: (t: number, dh: Arr) => void): Arr {
  for (let i = 0; i < n; i++) L.dh[i] = dOt[i] + L.dhNext[i];
  probe(t + 1, L.dh);
  return L.dh;
}
