// CharRNN: input (one-hot gather or embedding) → L recurrent layers of one cell (src/model/cells/) → linear
// decoder → softmax cross-entropy on the next character. Forward and backward over one chunk of T steps ×
// B streams. Nothing here depends on which cell: what differs is looked up in its table entry.
//
// Dimension letters: B streams, T steps, N = T·B rows (time-major: row t·B + b), V vocab, E embedding,
// H hidden, G gates per cell (its gate count), In = layer input width (V or E for layer 0, else H).
//
// Per chunk, each layer's input projection for all T steps is one GEMM (or one row gather for one-hot
// input), and each weight gradient is one GEMM over all N rows. Only the h·W_hhᵀ products are per step.
import type { ModelConfig } from "../config.ts";
import type { Arr, Kernels } from "../kernels/types.ts";
import type { Rng } from "../rng.ts";
import { hiddenGrad, inputBias, type StateName } from "./cells/cell.ts";
import { cellOf, gateCount } from "./cells/index.ts";
import { chunkWeights, createDropSpace, drawMask, dropInput, dropInputBackward, type ChunkDrop, type DropSpace, whhGrad } from "./dropout.ts";
import { type LayerBuffers, type LayerWeights, layerBuffers, stateAt } from "./layer.ts";
import { setNormMode } from "./norm.ts";
import { layerStats, newStats } from "./stats.ts";
import { type LayerViews, layerViews, makeSlab, paramSpec, type ParamSpec, type Slab, type StatName, statsSpec, tensorNames, viewsOf } from "./params.ts";

export interface Model {
  cfg: ModelConfig;
  ops: Kernels;
  spec: ParamSpec;
  params: Slab;
  layers: LayerWeights[];
  /** one-hot input only: weight_ih_l0ᵀ plus the input-side bias on every row [V × G·H], so the input projection
   *  is a row gather. Refreshed by pack(). */
  wihT: Arr | null;
  /** --norm batch: the running statistics, a slab of their own (params.ts statsSpec; empty otherwise) */
  stats: Slab<StatName>;
}

export function createModel(cfg: ModelConfig, ops: Kernels, params?: Slab): Model {
  const G = gateCount(cfg), H = cfg.hidden;
  const spec = paramSpec(cfg);
  const slab = params ?? makeSlab(spec, (n) => ops.alloc(n));
  const model = attachModel(cfg, ops, slab.data, {
    bsum: Array.from({ length: cfg.layers }, () => ops.alloc(G * H)),
    whhP: Array.from({ length: cfg.layers }, () => ops.alloc(ops.packedSize(G * H, H))),
    wihT: cfg.embed > 0 ? null : ops.alloc(cfg.vocabSize * G * H),
  }, newStats(cfg, ops).data);
  pack(model);
  return model;
}

/**
 * What pack() derives from the parameters: per layer b_ih + b_hh [G·H] and W_hh packed for the backward
 * steps' GEMMs (ops.packB), and W_ih_l0ᵀ + the cell's input-side bias [V × G·H] (one-hot; cells/cell.ts inputBias).
 */
export interface Derived {
  bsum: Arr[];
  whhP: Arr[];
  wihT: Arr | null;
}

/**
 * A Model over existing parameter, derived and running-statistics buffers, without packing: how a worker
 * thread sees the main thread's model in shared memory (the main thread packs once per optimizer step, for
 * everyone).
 */
export function attachModel(cfg: ModelConfig, ops: Kernels, params: Arr, derived: Derived, statsData: Arr): Model {
  const spec = paramSpec(cfg), sspec = statsSpec(cfg);
  const slab: Slab = { spec, data: params, views: viewsOf(spec, params) };
  const stats: Slab<StatName> = { spec: sspec, data: statsData, views: viewsOf(sspec, statsData) };
  const layers: LayerWeights[] = derived.bsum.map((bsum, k) => ({ ...layerViews(slab, k), bsum, whhP: derived.whhP[k], ...layerStats(stats, k) }));
  return { cfg, ops, spec, params: slab, layers, wihT: derived.wihT, stats };
}

/** Refresh everything derived from the parameters. Call after every change to them (once per optimizer step). */
export function pack(m: Model): void {
  const ops = m.ops, H = m.cfg.hidden, GH = gateCount(m.cfg) * H, V = m.cfg.vocabSize;
  for (const L of m.layers) {
    for (let j = 0; j < GH; j++) L.bsum[j] = L.bih[j] + L.bhh[j];
    ops.packB(L.whhP, L.whh, GH, H, false); // W_hh [GH × H] as a K = GH, N = H right-hand side
  }
  if (m.wihT) {
    // [V × GH] = W_ih [GH × V]ᵀ + the layer's input-side bias on every row: the one-hot input projection
    // (with its bias) is then a plain row gather, bit for bit the gather + addBias it replaces
    const L0 = m.layers[0];
    ops.transpose(m.wihT, L0.wih, GH, V, false);
    const bias = inputBias(cellOf(m.cfg), L0); // none for a normalised cell: it adds the biases after normalising
    if (bias) ops.addBias(m.wihT, bias, V, GH, true);
  }
}

/** Gradient views with the same names as the parameters. */
export function gradLayers(m: Model, grads: Slab): LayerViews[] {
  return m.layers.map((_, k) => layerViews(grads, k));
}

export interface Workspace {
  B: number;
  T: number;
  /** inputs and targets, filled by the caller before forward(): [N], time-major. A target < 0 is not scored. */
  idx: Int32Array;
  targets: Int32Array;
  /** embedding rows of the inputs [N × E] (embedding only) */
  X0: Arr | null;
  layers: LayerBuffers[];
  /** each layer's output as the next layer (or the decoder) sees it [N × H]: a view of hs blocks 1..T, or
   *  its own buffer when residual or dropout changes it */
  outs: Arr[];
  /** inverted-dropout masks [N × H] per layer output (values 0 or 1/(1−p)), when dropout is on */
  masks: (Arr | null)[];
  logits: Arr; // [N × V]
  dLogits: Arr; // [N × V]
  dA: Arr; // [N × max(H, E)] gradient ping-pong
  dB: Arr; // [N × max(H, E)]
  /** one-hot: gradient of wihT [V × G·H] */
  dWihT: Arr | null;
  /** column sums of ∂L/∂(gate pre-activations) [G·H] (bias gradients) */
  dBias: Arr;
  /** set by forward(): was dropout applied (masks valid) */
  dropped: boolean;
  /** the other dropouts' buffers (input, DropConnect on W_hh) and what forward() applied (dropout.ts) */
  drop: DropSpace;
}

/**
 * Buffers for chunks of B streams × T steps. opts: grad (default true) for a following backward(); dropout,
 * dropoutInput, weightDrop (training) for the masks of those dropouts (dropout.ts).
 */
export function createWorkspace(m: Model, B: number, T: number, opts: { dropout?: boolean; grad?: boolean; dropoutInput?: boolean; weightDrop?: boolean } = {}): Workspace {
  const { hidden: H, embed: E, vocabSize: V, layers: Lc, residual } = m.cfg;
  const ops = m.ops, cell = cellOf(m.cfg), G = cell.gates.length, N = T * B;
  const grad = opts.grad ?? true;
  const layers: LayerBuffers[] = [];
  const outs: Arr[] = [];
  const masks: (Arr | null)[] = [];
  for (let l = 0; l < Lc; l++) {
    const lb = layerBuffers((n) => ops.alloc(n), cell, B, T, H);
    layers.push(lb);
    const own = opts.dropout || (residual && l > 0);
    outs.push(own ? ops.alloc(N * H) : lb.hs.subarray(B * H));
    masks.push(opts.dropout ? ops.alloc(N * H) : null);
  }
  const empty = ops.alloc(0);
  return {
    B, T,
    idx: new Int32Array(N),
    targets: new Int32Array(N),
    X0: E > 0 ? ops.alloc(N * E) : null,
    layers, outs, masks,
    logits: ops.alloc(N * V),
    dLogits: grad ? ops.alloc(N * V) : empty,
    dA: grad ? ops.alloc(N * Math.max(H, E)) : empty,
    dB: grad ? ops.alloc(N * Math.max(H, E)) : empty,
    dWihT: grad && E === 0 ? ops.alloc(V * G * H) : null,
    dBias: grad ? ops.alloc(G * H) : empty,
    dropped: false,
    drop: createDropSpace(ops, { N, E, GH: G * H, H, input: !!opts.dropoutInput && E > 0, weights: !!opts.weightDrop && grad }),
  };
}

/**
 * The state carried from chunk to chunk: per layer, each state the cell carries [B × H] (Cell.state: h, and
 * c for lstm). A state the cell does not carry is an empty list.
 */
export type State = Record<StateName, Arr[]>;

export function createState(m: Model, B: number): State {
  const carried = cellOf(m.cfg).state;
  const states = (s: StateName) => (carried.includes(s) ? m.layers.map(() => m.ops.alloc(B * m.cfg.hidden)) : []);
  return { h: states("h"), c: states("c") };
}

export function resetState(s: State): void {
  for (const a of s.h) a.fill(0);
  for (const a of s.c) a.fill(0);
}

export interface ForwardOptions {
  /** compute dLogits for a following backward() */
  grad: boolean;
  /** gradient scale applied to dLogits; default 1 / (scored targets) so the loss is a mean */
  scale?: number;
  /** inverted dropout probability between layers and before the decoder (training only) */
  dropout?: number;
  /** --dropout-mode locked: those masks are one per stream, the same at every step of the chunk */
  locked?: boolean;
  /** locked dropout probability on the embedding vectors (training only; a workspace made with dropoutInput) */
  dropoutInput?: number;
  /** the chunk's shared masks (DropConnect on W_hh, embedding rows), drawn by drawChunkDrop (training only) */
  chunk?: ChunkDrop | null;
  rng?: Rng;
  /** --norm batch: normalise with each step's statistics over its streams (training), not the running
   *  estimates (validation, eval, sampling: the default); backward needs it. Layer norm ignores it. */
  training?: boolean;
  /** --norm batch, training: fold the statistics into the running estimates (default: as training) */
  updateStats?: boolean;
}

export interface ForwardResult {
  /** Σ −log p over scored targets */
  lossSum: number;
  /** number of scored targets */
  count: number;
}

/** Runs one chunk. Reads ws.idx / ws.targets and the carried state; writes the final state back. */
export function forward(m: Model, ws: Workspace, state: State, opts: ForwardOptions): ForwardResult {
  const ops = m.ops, cell = cellOf(m.cfg), { hidden: H, embed: E, vocabSize: V, residual } = m.cfg;
  const B = ws.B, T = ws.T, N = B * T, GH = cell.gates.length * H;
  const p = opts.dropout ?? 0;
  ws.dropped = p > 0 && ws.masks[0] !== null;
  const chunk = (ws.drop.chunk = opts.chunk ?? null);
  if (ws.X0) {
    ops.gatherRows(ws.X0, m.params.views[tensorNames.embedding], ws.idx, N, E, false);
    dropInput(ws.X0, ws.idx, ws.drop, B, T, E, opts.dropoutInput ?? 0, opts.rng); // embedding rows, locked input mask
  }
  let input: Arr | null = ws.X0; // [N × In]
  for (let l = 0; l < m.layers.length; l++) {
    const W = chunkWeights(m, chunk, l), Lb = ws.layers[l]; // W_hh ⊙ M under --weight-drop
    const In = l === 0 ? (E > 0 ? E : V) : H;
    if (Lb.norm) setNormMode(Lb.norm.mode, opts);
    // gates[N × GH] = input projection of all T steps + bias
    if (l === 0 && m.wihT) ops.gatherRows(Lb.gates, m.wihT, ws.idx, N, GH, false); // rows of W_ihᵀ + bias (pack())
    else {
      const bias = inputBias(cell, W); // none for a normalised cell: it adds the biases after normalising
      if (bias) ops.gemmNTBias(Lb.gates, input!, W.wih, bias, N, GH, In); // [N×GH] = X[N×In] · W_ihᵀ + bias
      else ops.gemmNT(Lb.gates, input!, W.wih, N, GH, In, false);
    }
    for (const s of cell.state) stateAt(Lb, s)[0].set(state[s][l]); // carried in
    cell.forward(ops, Lb, W, B, T, H, m.cfg);
    for (const s of cell.state) state[s][l].set(stateAt(Lb, s)[T]); // carried on to the next chunk
    // the layer's output as seen from above
    const out = ws.outs[l];
    const hs = Lb.hs.subarray(B * H);
    if (out !== hs) {
      if (residual && l > 0) for (let i = 0; i < N * H; i++) out[i] = hs[i] + input![i];
      else out.set(hs);
      if (ws.dropped) {
        const mask = ws.masks[l]!;
        drawMask(mask, opts.rng!, p, B, T, H, !!opts.locked);
        for (let i = 0; i < N * H; i++) out[i] *= mask[i];
      }
    }
    input = out;
  }
  // decoder: logits[N × V] = top[N × H] · W_decᵀ + b_dec
  ops.gemmNTBias(ws.logits, input!, m.params.views[tensorNames.decoderWeight], m.params.views[tensorNames.decoderBias], N, V, H);
  let count = 0;
  for (let i = 0; i < N; i++) if (ws.targets[i] >= 0) count++;
  const scale = opts.scale ?? (count > 0 ? 1 / count : 0);
  const lossSum = ops.softmaxXent(opts.grad ? ws.dLogits : null, ws.logits, ws.targets, N, V, scale);
  return { lossSum, count };
}

/** Accumulates (+=) the gradient of the last forward(grad: true) into grads. */
export function backward(m: Model, ws: Workspace, grads: Slab): void {
  const ops = m.ops, cell = cellOf(m.cfg), { hidden: H, embed: E, vocabSize: V, residual } = m.cfg;
  const B = ws.B, T = ws.T, N = B * T, GH = cell.gates.length * H;
  const gl = gradLayers(m, grads);
  const Lc = m.layers.length;
  const top = ws.outs[Lc - 1];
  // decoder
  ops.gemmTNAcc(grads.views[tensorNames.decoderWeight], ws.dLogits, top, V, H, N); // dW_dec[V×H] += dLogitsᵀ · top
  ops.biasBackward(grads.views[tensorNames.decoderBias], ws.dLogits, N, V);
  let dOut = ws.dA, dIn = ws.dB;
  ops.gemmNN(dOut, ws.dLogits, m.params.views[tensorNames.decoderWeight], N, H, V, false); // dTop[N×H] = dLogits · W_dec
  for (let l = Lc - 1; l >= 0; l--) {
    const W = chunkWeights(m, ws.drop.chunk, l), Lb = ws.layers[l], g = gl[l]; // as forward() ran it
    const In = l === 0 ? (E > 0 ? E : V) : H;
    const input = l === 0 ? ws.X0 : ws.outs[l - 1];
    if (ws.dropped) {
      const mask = ws.masks[l]!;
      for (let i = 0; i < N * H; i++) dOut[i] *= mask[i];
    }
    // through time
    cell.backward(ops, Lb, W, g, dOut, B, T, H, m.cfg);
    // weight gradients: one GEMM each over all N rows
    const dX = Lb.gates; // ∂L/∂(input projection) [N × GH]
    const dHh = hiddenGrad(cell, Lb); // ∂L/∂(hidden projection) [N × GH]
    const hPrev = Lb.hs.subarray(0, N * H); // h_{t-1} for t = 0..T-1 [N × H]
    whhGrad(ops, g.whh, dHh, hPrev, GH, H, N, ws.drop, l); // dW_hh[GH×H] += dHhᵀ · hPrev (⊙ M under --weight-drop)
    if (cell.norm) {
      // a normalised cell has made its biases' gradients itself (from the gradient after normalisation)
    } else if (dHh === dX) {
      // a "summed" hidden projection: both biases get the same column sums; sum once (from zero, as
      // biasBackward into a zeroed gradient would) and add to both
      const db = ws.dBias;
      db.fill(0);
      ops.biasBackward(db, dX, N, GH);
      ops.addTo(g.bhh, db, GH);
      ops.addTo(g.bih, db, GH);
    } else {
      ops.biasBackward(g.bhh, dHh, N, GH);
      ops.biasBackward(g.bih, dX, N, GH);
    }
    if (l === 0 && m.wihT) {
      const dT = ws.dWihT!;
      dT.fill(0);
      ops.scatterAddRows(dT, dX, ws.idx, N, GH); // dW_ihᵀ[V×GH] rows += dX rows
      ops.transpose(g.wih, dT, V, GH, true); // dW_ih[GH×V] += dW_ihᵀ[V×GH]ᵀ
    } else {
      ops.gemmTNAcc(g.wih, dX, input!, GH, In, N); // dW_ih[GH×In] += dXᵀ · input
    }
    if (l > 0 || E > 0) {
      // gradient into this layer's input [N × In]
      ops.gemmNN(dIn, dX, W.wih, N, In, GH, false);
      if (residual && l > 0) for (let i = 0; i < N * H; i++) dIn[i] += dOut[i];
      if (l === 0) {
        dropInputBackward(dIn, ws.idx, ws.drop, N, E); // through the input mask and the embedding rows' scale
        ops.scatterAddRows(grads.views[tensorNames.embedding], dIn, ws.idx, N, E);
      }
      const t = dOut;
      dOut = dIn;
      dIn = t;
    }
  }
}
