// The masks of training-time dropout and where model.forward / model.backward apply them. Evaluation,
// sampling and every other use of a model pass none of them: nothing here runs then.
//
// Every mask holds 0 (dropped, with probability p) or 1/(1 − p) (kept; inverted dropout, so the expected
// value is unchanged and evaluation needs no rescaling).
//
// Per-stream masks, drawn by each training thread from its own generator (as --dropout's always were):
//   - between layers and before the decoder (--dropout p), per layer [N × H]:
//       element (the default): one draw per element, N·H draws in row order;
//       locked (--dropout-mode locked; Gal & Ghahramani's variational dropout, AWD-LSTM's LockedDropout):
//       B·H draws, row b the mask of stream b, copied to every step t — one mask per stream per chunk.
//   - on layer 0's input, the embedding vectors (--dropout-input p): locked, [N × E].
//   y = x ⊙ mask, ∂L/∂x = ∂L/∂y ⊙ mask.
// Chunk masks, one per chunk and shared by every stream (ChunkDrop): drawn once per chunk from the main
// generator, before the threads start, into memory they all read:
//   - DropConnect on W_hh (--weight-drop p; Wan et al. 2013, AWD-LSTM's WeightDrop): per layer a mask
//     M [G·H × H]; the chunk runs with W̃_hh = W_hh ⊙ M (and its packed copy for the backward steps), the
//     parameters themselves untouched, and ∂L/∂W_hh = M ⊙ ∂L/∂W̃_hh;
//   - embedding rows (--embed-dropout p; AWD-LSTM's embedded_dropout): r [V]; the chunk's embedding matrix is
//     diag(r)·Emb, so x_n = r_{idx_n} · Emb_{idx_n} and ∂L/∂Emb_v = r_v · Σ_{n: idx_n = v} ∂L/∂x_n.
// Draw order within a chunk: the chunk masks first (rows, then W_hh layer by layer), then per thread the input
// mask and the masks between layers, layer by layer.
import type { Arr, Kernels } from "../kernels/types.ts";
import type { Rng } from "../rng.ts";
import { gateCount } from "./cells/index.ts";
import type { LayerWeights } from "./layer.ts";
import type { Model } from "./model.ts";

/** Fills mask [T·B × W] for B streams with probability p: element (a draw per element) or locked (one row of
 *  W per stream, the same at every step). */
export function drawMask(mask: Arr, rng: Rng, p: number, B: number, T: number, W: number, locked: boolean): void {
  const keep = 1 / (1 - p);
  const n = locked ? B * W : T * B * W;
  for (let i = 0; i < n; i++) mask[i] = rng.next() < p ? 0 : keep;
  if (locked) for (let t = 1; t < T; t++) mask.copyWithin(t * B * W, 0, B * W);
}

/** The probabilities of the chunk masks (0 = off). */
export interface ChunkDropRates {
  weights: number;
  rows: number;
}

/** The buffers of the chunk masks, in the kernels' memory (a worker thread finds them by offset). */
export interface ChunkDropBuffers {
  /** --weight-drop, per layer: M, W_hh ⊙ M [G·H × H] and its packed copy (ops.packB); empty when off */
  whh: { mask: Arr; whh: Arr; whhP: Arr }[];
  /** --embed-dropout: r [V]; null when off */
  rows: Arr | null;
}

/** The chunk masks of one model, and the layer weights a chunk runs with (W_hh swapped for W_hh ⊙ M). */
export interface ChunkDrop {
  rates: ChunkDropRates;
  buffers: ChunkDropBuffers;
  /** --weight-drop: per layer the model's weights with whh / whhP replaced by the masked copies; null when off */
  layers: LayerWeights[] | null;
}

/** The chunk masks' buffers for model m, or null when both rates are 0. */
export function createChunkDrop(m: Model, rates: ChunkDropRates): ChunkDrop | null {
  if (!(rates.weights > 0) && !(rates.rows > 0)) return null;
  const ops = m.ops, GH = gateCount(m.cfg) * m.cfg.hidden, H = m.cfg.hidden;
  const buffers: ChunkDropBuffers = {
    whh: rates.weights > 0 ? m.layers.map(() => ({ mask: ops.alloc(GH * H), whh: ops.alloc(GH * H), whhP: ops.alloc(ops.packedSize(GH, H)) })) : [],
    rows: rates.rows > 0 ? ops.alloc(m.cfg.vocabSize) : null,
  };
  return attachChunkDrop(m, rates, buffers);
}

/** The chunk masks over existing buffers: how a worker thread sees the ones the main thread draws. */
export function attachChunkDrop(m: Model, rates: ChunkDropRates, buffers: ChunkDropBuffers): ChunkDrop {
  const layers = buffers.whh.length ? m.layers.map((L, k) => ({ ...L, whh: buffers.whh[k].whh, whhP: buffers.whh[k].whhP })) : null;
  return { rates, buffers, layers };
}

/** Draws the chunk masks for the next chunk and makes W_hh ⊙ M (packed) from the current parameters. */
export function drawChunkDrop(m: Model, d: ChunkDrop, rng: Rng): void {
  const { rows, whh } = d.buffers;
  if (rows) {
    const p = d.rates.rows, keep = 1 / (1 - p);
    for (let v = 0; v < rows.length; v++) rows[v] = rng.next() < p ? 0 : keep;
  }
  if (whh.length) {
    const p = d.rates.weights, keep = 1 / (1 - p), H = m.cfg.hidden, GH = gateCount(m.cfg) * H;
    whh.forEach((b, k) => {
      const W = m.layers[k].whh;
      for (let i = 0; i < GH * H; i++) {
        b.mask[i] = rng.next() < p ? 0 : keep;
        b.whh[i] = W[i] * b.mask[i];
      }
      m.ops.packB(b.whhP, b.whh, GH, H, false); // as pack() lays out W_hh
    });
  }
}

/** The weights layer l runs with in a chunk: the model's, or with W_hh ⊙ M under --weight-drop. */
export function chunkWeights(m: Model, d: ChunkDrop | null, l: number): LayerWeights {
  return d?.layers?.[l] ?? m.layers[l];
}

/** What a workspace holds for dropout beyond the masks between layers. */
export interface DropSpace {
  /** --dropout-input: the locked mask on the embedding vectors [N × E]; null when not allocated */
  inMask: Arr | null;
  /** --weight-drop: one layer's ∂L/∂W̃_hh before the mask is applied [G·H × H]; null when not allocated */
  dWhh: Arr | null;
  /** set by forward(): the input mask was applied, and the chunk masks it ran with (null: none) */
  input: boolean;
  chunk: ChunkDrop | null;
}

export function createDropSpace(ops: Kernels, o: { N: number; E: number; GH: number; H: number; input: boolean; weights: boolean }): DropSpace {
  return { inMask: o.input ? ops.alloc(o.N * o.E) : null, dWhh: o.weights ? ops.alloc(o.GH * o.H) : null, input: false, chunk: null };
}

/**
 * Forward, on the embedding vectors X0 [N × E] just gathered for idx: rows scaled by r_{idx_n} (embedding
 * dropout), then the locked input mask drawn (p > 0) and applied.
 */
export function dropInput(X0: Arr, idx: Int32Array, s: DropSpace, B: number, T: number, E: number, p: number, rng: Rng | undefined): void {
  const rows = s.chunk?.buffers.rows;
  if (rows) scaleRows(X0, rows, idx, B * T, E);
  s.input = p > 0 && s.inMask !== null;
  if (s.input) {
    const mask = s.inMask!;
    drawMask(mask, rng!, p, B, T, E, true);
    for (let i = 0; i < B * T * E; i++) X0[i] *= mask[i];
  }
}

/** Backward of dropInput: dX [N × E] = ∂L/∂(the vectors layer 0 saw) → ∂L/∂(the gathered embedding rows), in place. */
export function dropInputBackward(dX: Arr, idx: Int32Array, s: DropSpace, N: number, E: number): void {
  if (s.input) {
    const mask = s.inMask!;
    for (let i = 0; i < N * E; i++) dX[i] *= mask[i];
  }
  const rows = s.chunk?.buffers.rows;
  if (rows) scaleRows(dX, rows, idx, N, E);
}

/** x[n] *= r[idx[n]] for the N rows of x [N × E] */
function scaleRows(x: Arr, r: Arr, idx: Int32Array, N: number, E: number): void {
  for (let n = 0; n < N; n++) {
    const s = r[idx[n]];
    for (let j = n * E; j < (n + 1) * E; j++) x[j] *= s;
  }
}

/**
 * ∂L/∂W_hh [G·H × H] += dHhᵀ [G·H × N] · hPrev [N × H]: directly, or under --weight-drop through the scratch
 * (the gradient with respect to W̃_hh) times the layer's mask M.
 */
export function whhGrad(ops: Kernels, gWhh: Arr, dHh: Arr, hPrev: Arr, GH: number, H: number, N: number, s: DropSpace, l: number): void {
  const b = s.chunk?.layers ? s.chunk.buffers.whh[l] : null;
  if (!b) {
    ops.gemmTNAcc(gWhh, dHh, hPrev, GH, H, N);
    return;
  }
  const d = s.dWhh!;
  d.fill(0);
  ops.gemmTNAcc(d, dHh, hPrev, GH, H, N);
  for (let i = 0; i < GH * H; i++) gWhh[i] += b.mask[i] * d[i];
}
