// A gradient engine computes the loss and the gradient of one chunk for all B streams, carrying each
// stream's hidden state from chunk to chunk. This one runs on the calling thread; the data-parallel engine
// (src/train/parallel.ts) splits the B streams across worker threads and has the same interface.
import type { TrainConfig } from "../config.ts";
import type { Arr } from "../kernels/types.ts";
import type { Batcher } from "../data/batches.ts";
import { backward, createState, createWorkspace, forward, type Model, resetState, type State } from "../model/model.ts";
import { makeSlab, type Slab } from "../model/params.ts";
import type { Rng } from "../rng.ts";

export interface Engine {
  /** gradient slab, overwritten by each run() */
  grads: Slab;
  /** zero grads; forward + backward on chunk `chunk` of the epoch; returns the summed loss and the count */
  run(chunk: number, rng: Rng): { lossSum: number; count: number };
  /** the carried hidden state of every stream: per layer h [B×H] (and c [B×H] for lstm) */
  state: State;
  resetState(): void;
  /** call after parameters change (the engine may keep derived copies) */
  paramsChanged(): void;
  dispose(): Promise<void>;
}

export function createLocalEngine(model: Model, cfg: TrainConfig, batcher: Batcher): Engine {
  const B = cfg.batch, T = cfg.seq;
  const ws = createWorkspace(model, B, T, { dropout: cfg.dropout > 0 });
  const state = createState(model, B);
  const grads = makeSlab(model.spec, (n) => model.K.alloc(n));
  return {
    grads,
    state,
    run(chunk, rng) {
      batcher.fill(chunk, ws.idx, ws.targets);
      grads.data.fill(0);
      const r = forward(model, ws, state, { grad: true, dropout: cfg.dropout, rng });
      backward(model, ws, grads);
      return r;
    },
    resetState: () => resetState(state),
    paramsChanged: () => {},
    dispose: async () => {},
  };
}

/** Flattens a State into one array [L × B × H] (h), and [L × B × H] (c) for saving. */
export function packState(s: State, out: { h: Arr; c: Arr | null }): void {
  s.h.forEach((a, l) => out.h.set(a, l * a.length));
  if (out.c) s.c.forEach((a, l) => out.c!.set(a, l * a.length));
}

export function unpackState(s: State, from: { h: ArrayLike<number>; c: ArrayLike<number> | null }): void {
  s.h.forEach((a, l) => {
    for (let i = 0; i < a.length; i++) a[i] = from.h[l * a.length + i];
  });
  if (from.c) s.c.forEach((a, l) => {
    for (let i = 0; i < a.length; i++) a[i] = from.c![l * a.length + i];
  });
}
