// A gradient engine computes the loss and the gradient of one chunk for all B streams, carrying each
// stream's hidden state from chunk to chunk. This one runs on the calling thread; the data-parallel engine
// (src/train/parallel.ts) splits the B streams across worker threads and has the same interface.
import type { TrainConfig } from "../config.ts";
import type { Arr } from "../kernels/types.ts";
import type { Batcher } from "../corpus/batches.ts";
import { type ChunkDrop, type ChunkDropRates, createChunkDrop, drawChunkDrop } from "../model/dropout.ts";
import { backward, createState, createWorkspace, forward, type ForwardOptions, type Model, resetState, type State } from "../model/model.ts";
import { makeSlab, type Slab } from "../model/params.ts";
import type { Rng } from "../rng.ts";
import type { AdamScalars, OptimizerState } from "./optim.ts";

export interface Engine {
  /** gradient slab, overwritten by each run() */
  grads: Slab;
  /**
   * zero grads; forward + backward on chunk `chunk` of the epoch; returns the summed loss and the count.
   * deferReduce (only where reduceGrads exists): leave the threads' gradients unsummed for reduceGrads().
   */
  run(chunk: number, rng: Rng, deferReduce?: boolean): { lossSum: number; count: number };
  /** copies the carried hidden state of every stream out: h [L × B × H] (and c [L × B × H] for lstm) */
  saveState(out: { h: Arr; c: Arr | null }): void;
  /** restores what saveState wrote (resume) */
  loadState(from: { h: ArrayLike<number>; c: ArrayLike<number> | null }): void;
  resetState(): void;
  /** chunks of T steps in an epoch of the training text */
  chunksPerEpoch: number;
  /**
   * Optional (engines with several threads): the tail of an Adam step spread over all threads. After
   * run(chunk, rng, true), which leaves each thread's gradient in its own slab, reduceGrads() sums them into
   * grads (each thread one slice of the slab) and returns Σ g²; adamUpdate() then scales the gradient by
   * coef (clipping; 1 = none) and applies one Adam update (optim.ts adam) with the scalars of the step, again
   * slice by slice.
   */
  reduceGrads?(): number;
  adamUpdate?(opt: OptimizerState, coef: number, a: AdamScalars): void;
  /**
   * Optional (engines with several threads): --ortho-opt cayley's retraction spread over all threads. kept: the
   * slab of the blocks before the update (src/train/cayley.ts); each other thread retracts its share of the
   * blocks (retractShare, part = its index), while the calling thread runs mine(0, threads).
   */
  cayleyRetract?(kept: Arr, step: number, mine: (part: number, parts: number) => void): void;
  dispose(): Promise<void>;
}

/** The dropouts of a training chunk, as the workspace needs them allocated (src/model/dropout.ts). */
export function workspaceDrops(cfg: TrainConfig): { dropout: boolean; dropoutInput: boolean; weightDrop: boolean } {
  return { dropout: cfg.dropout > 0, dropoutInput: (cfg.dropoutInput ?? 0) > 0, weightDrop: (cfg.weightDrop ?? 0) > 0 };
}

/** The rates of the masks one chunk shares across all its streams (and threads): W_hh's and the embedding rows'. */
export function chunkDropRates(cfg: TrainConfig): ChunkDropRates {
  return { weights: cfg.weightDrop ?? 0, rows: cfg.embedDropout ?? 0 };
}

/** Whether a chunk draws masks per stream (each thread from its own generator): --dropout, --dropout-input. */
export function drawsStreamMasks(cfg: TrainConfig): boolean {
  return cfg.dropout > 0 || (cfg.dropoutInput ?? 0) > 0;
}

/** forward()'s options for a training chunk (batch norm: each step's statistics over these streams). */
export function trainForward(cfg: TrainConfig, rng: Rng, scale: number, chunk: ChunkDrop | null): ForwardOptions {
  return { grad: true, dropout: cfg.dropout, rng, scale, locked: cfg.dropoutMode === "locked", dropoutInput: cfg.dropoutInput ?? 0, chunk, training: true };
}

/**
 * Runs streams b0 … b0+nb−1 of the batcher (default: all B) on this thread. The gradient is scaled by
 * 1 / (B·T), so the gradients of all parts of a batch add up to the gradient of the batch's mean loss.
 * The chunk masks (--weight-drop, --embed-dropout) are its own, drawn from the generator run() is given, unless
 * `shared` hands it ones drawn by its caller (the data-parallel engine, for all threads at once).
 */
export function createLocalEngine(
  model: Model, cfg: TrainConfig, batcher: Batcher, part: { b0: number; nb: number } = { b0: 0, nb: cfg.batch }, shared?: { chunk: ChunkDrop | null },
): Engine {
  const B = cfg.batch, T = cfg.seq, { b0, nb } = part;
  // the kernels' helper thread is a second core: only when training was given more than one
  model.ops.setHelper?.(cfg.threads > 1);
  const ws = createWorkspace(model, nb, T, workspaceDrops(cfg));
  const chunkDrop = shared ? shared.chunk : createChunkDrop(model, chunkDropRates(cfg));
  const drawsChunk = !shared && chunkDrop !== null;
  const state = createState(model, nb);
  const grads = makeSlab(model.spec, (n) => model.ops.alloc(n));
  const scale = 1 / (B * T);
  return {
    grads,
    saveState: (out) => packState(state, out, B, model.cfg.hidden, b0),
    loadState: (from) => unpackState(state, from, B, model.cfg.hidden, b0),
    run(chunk, rng) {
      batcher.fill(chunk, ws.idx, ws.targets, b0, nb);
      grads.data.fill(0);
      if (drawsChunk) drawChunkDrop(model, chunkDrop, rng);
      const r = forward(model, ws, state, trainForward(cfg, rng, scale, chunkDrop)); // batch norm: these streams' statistics go into the running estimates
      backward(model, ws, grads);
      return r;
    },
    resetState: () => resetState(state),
    chunksPerEpoch: batcher.chunksPerEpoch,
    dispose: async () => {},
  };
}

/**
 * Copies the State of streams b0 … b0+nb−1 (per layer [nb × H]) into the flat [L × B × H] layout of all B
 * streams, or back. A State that holds every stream uses b0 = 0.
 */
export function packState(s: State, out: { h: Arr; c: Arr | null }, B: number, H: number, b0 = 0): void {
  for (let l = 0; l < s.h.length; l++) {
    out.h.set(s.h[l], (l * B + b0) * H);
    if (out.c) out.c.set(s.c[l], (l * B + b0) * H);
  }
}

export function unpackState(s: State, from: { h: ArrayLike<number>; c: ArrayLike<number> | null }, B: number, H: number, b0 = 0): void {
  for (let l = 0; l < s.h.length; l++) {
    const o = (l * B + b0) * H;
    for (let i = 0; i < s.h[l].length; i++) s.h[l][i] = from.h[o + i];
    if (from.c) for (let i = 0; i < s.c[l].length; i++) s.c[l][i] = from.c[o + i];
  }
}
