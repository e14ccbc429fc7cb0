// Float64 gradient checks of the regularisers that change the backward pass (src/model/dropout.ts), each with
// FIXED masks (the generators are re-seeded identically for every loss evaluation, so every forward draws the
// same masks), 2 layers, a carried non-zero state, every cell: locked dropout between layers (--dropout-mode
// locked), locked dropout on the embedding vectors (--dropout-input), DropConnect on W_hh (--weight-drop),
// embedding-row dropout (--embed-dropout), and all of them together (with residual, 3 layers). Then what the
// masks are: locked masks the same at every step and different between streams, DropConnect leaving the
// parameters as they were, every mask really dropping and scaling by 1/(1−p), and nothing applied without them.
import { describe, expect, it } from "vitest";
import type { ModelConfig } from "../src/config.ts";
import { refF64 } from "../src/kernels/ref.ts";
import { createChunkDrop, drawChunkDrop } from "../src/model/dropout.ts";
import { backward, createWorkspace, forward, pack } from "../src/model/model.ts";
import { makeSlab, tensorNames } from "../src/model/params.ts";
import { makeRng } from "../src/rng.ts";
import { gradcheck, setup } from "./helpers/gradcheck.ts";

const ops = refF64;

interface Drops {
  dropout?: number;
  locked?: boolean;
  input?: number;
  weights?: number;
  rows?: number;
}

/** Gradcheck of the mean cross-entropy under fixed masks of the dropouts given. */
function check(mc: ModelConfig, d: Drops) {
  const { m, ws, st, setState } = setup(mc, { dropout: (d.dropout ?? 0) > 0, dropoutInput: (d.input ?? 0) > 0, weightDrop: (d.weights ?? 0) > 0 });
  const chunk = createChunkDrop(m, { weights: d.weights ?? 0, rows: d.rows ?? 0 });
  const fwd = (grad: boolean) => {
    // the chunk masks first, from their own fixed generator, and W_hh ⊙ M from the parameters as they are now
    if (chunk) drawChunkDrop(m, chunk, makeRng(11));
    return forward(m, ws, st, { grad, dropout: d.dropout ?? 0, locked: d.locked, dropoutInput: d.input ?? 0, chunk, rng: makeRng(99) });
  };
  const loss = () => {
    pack(m);
    setState();
    const r = fwd(false);
    return r.lossSum / r.count;
  };
  const grads = makeSlab(m.spec, (n) => ops.alloc(n));
  setState();
  fwd(true);
  backward(m, ws, grads);
  const res = gradcheck(m.params.data, grads.data, loss);
  const t = m.spec.tensors.find((t) => res.worst.index >= t.offset && res.worst.index < t.offset + t.size);
  return { ...res, tensor: t?.name, m, ws, chunk };
}

const base = (o: Partial<ModelConfig>): ModelConfig => ({ cell: "lstm", layers: 2, hidden: 5, embed: 3, activation: "tanh", residual: false, vocabSize: 6, ...o });
const cells: [string, Partial<ModelConfig>][] = [["rnn-tanh", { cell: "rnn" }], ["lstm", { cell: "lstm" }], ["lstm-nofg", { cell: "lstm", forgetGate: false }], ["gru", { cell: "gru" }]];
const KEEP = 1 / 0.7;

/** the distinct values of a mask: both 0 and 1/(1−p) (a check of a mask that drops nothing would be of a no-op) */
const valuesOf = (a: ArrayLike<number>) => [...new Set(Array.from(a))].sort();

describe("float64 gradient checks under fixed masks, 2 layers, T=4, carried state", () => {
  for (const [name, c] of cells) {
    it(`${name}: --dropout 0.3 --dropout-mode locked`, () => {
      const r = check(base(c), { dropout: 0.3, locked: true });
      expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
      for (const mask of r.ws.masks) expect(valuesOf(mask!)).toEqual([0, KEEP].sort());
    });
    it(`${name}: --dropout-input 0.3`, () => {
      const r = check(base(c), { input: 0.3 });
      expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
      expect(r.ws.drop.input).toBe(true);
      expect(valuesOf(r.ws.drop.inMask!)).toEqual([0, KEEP].sort());
    });
    for (const embed of [0, 3]) {
      it(`${name}: --weight-drop 0.3, ${embed ? "embedding" : "one-hot"}`, () => {
        const r = check(base({ ...c, embed }), { weights: 0.3 });
        expect(r.checked).toBeGreaterThan(100);
        expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
        for (const b of r.chunk!.buffers.whh) expect(valuesOf(b.mask)).toEqual([0, KEEP].sort());
      });
    }
    it(`${name}: --embed-dropout 0.5`, () => {
      const r = check(base(c), { rows: 0.5 });
      expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
      expect(valuesOf(r.chunk!.buffers.rows!)).toEqual([0, 2]);
    });
    it(`${name}: all of them together, 3 layers, residual`, () => {
      const r = check(base({ ...c, layers: 3, residual: true }), { dropout: 0.3, locked: true, input: 0.3, weights: 0.3, rows: 0.3 });
      expect(r.checked).toBeGreaterThan(200);
      expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
    });
  }
  it("element masks with the other dropouts (the default --dropout-mode)", () => {
    const r = check(base({ cell: "lstm" }), { dropout: 0.3, input: 0.3, weights: 0.3, rows: 0.3 });
    expect(r.maxRelError, `worst at ${r.tensor}: ${JSON.stringify(r.worst)}`).toBeLessThan(1e-6);
  });
});

describe("what the masks are", () => {
  const B = 3, T = 5, H = 5, E = 3;
  const run = (d: Drops, mc: Partial<ModelConfig> = {}) => {
    const s = setup(base(mc), { B, T, dropout: (d.dropout ?? 0) > 0, dropoutInput: (d.input ?? 0) > 0, weightDrop: (d.weights ?? 0) > 0 });
    const chunk = createChunkDrop(s.m, { weights: d.weights ?? 0, rows: d.rows ?? 0 });
    const params = Float64Array.from(s.m.params.data);
    const rng = makeRng(5);
    if (chunk) drawChunkDrop(s.m, chunk, rng);
    s.setState();
    const r = forward(s.m, s.ws, s.st, { grad: true, dropout: d.dropout ?? 0, locked: d.locked, dropoutInput: d.input ?? 0, chunk, rng });
    backward(s.m, s.ws, makeSlab(s.m.spec, (n) => ops.alloc(n)));
    return { ...s, chunk, params, r };
  };
  /** row b of step t of a time-major [T·B × W] mask */
  const row = (mask: ArrayLike<number>, t: number, b: number, W: number) => Array.from(mask).slice((t * B + b) * W, (t * B + b + 1) * W);

  it("locked masks (between layers and on the input) are the same at every step of a chunk and differ between streams", () => {
    const { ws } = run({ dropout: 0.5, locked: true, input: 0.5 });
    const masks: [ArrayLike<number>, number][] = [...ws.masks.map((mk) => [mk!, H] as [ArrayLike<number>, number]), [ws.drop.inMask!, E]];
    for (const [mask, W] of masks) {
      for (let b = 0; b < B; b++) for (let t = 1; t < T; t++) expect(row(mask, t, b, W)).toEqual(row(mask, 0, b, W));
      const streams = new Set(Array.from({ length: B }, (_, b) => row(mask, 0, b, W).join(",")));
      expect(streams.size).toBe(B);
    }
  });

  it("element masks (the default) differ from step to step", () => {
    const { ws } = run({ dropout: 0.5 });
    const mask = ws.masks[0]!;
    const steps = new Set(Array.from({ length: T }, (_, t) => row(mask, t, 0, H).join(",")));
    expect(steps.size).toBeGreaterThan(1);
  });

  it("--weight-drop runs the chunk on W_hh ⊙ M and leaves the parameters (and their packed W_hh) as they were", () => {
    for (const [, c] of cells) {
      const { m, chunk, params } = run({ weights: 0.5 }, c);
      expect(Array.from(m.params.data)).toEqual(Array.from(params));
      m.layers.forEach((L, k) => {
        const b = chunk!.buffers.whh[k];
        expect(Array.from(b.whh)).not.toEqual(Array.from(L.whh));
        for (let i = 0; i < L.whh.length; i++) expect(b.whh[i]).toBe(L.whh[i] * b.mask[i]);
        expect(chunk!.layers![k].whh).toBe(b.whh);
        expect(chunk!.layers![k].wih).toBe(L.wih); // only W_hh is swapped
      });
    }
  });

  it("embedding rows are dropped whole, for every stream and step that reads the character", () => {
    const { m, ws, chunk } = run({ rows: 0.5 });
    const rows = chunk!.buffers.rows!;
    const emb = m.params.views[tensorNames.embedding];
    for (let n = 0; n < B * T; n++) {
      for (let j = 0; j < E; j++) expect(ws.X0![n * E + j]).toBeCloseTo(emb[ws.idx[n] * E + j] * rows[ws.idx[n]], 12);
    }
  });

  it("without the options (evaluation, sampling) nothing is dropped: the loss is the plain forward's", () => {
    const a = run({ dropout: 0.5, locked: true, input: 0.5, weights: 0.5, rows: 0.5 });
    const plain = createWorkspace(a.m, B, T, { grad: false });
    plain.idx.set(a.ws.idx);
    plain.targets.set(a.ws.targets);
    a.setState();
    const r0 = forward(a.m, plain, a.st, { grad: false });
    expect(plain.dropped).toBe(false);
    expect(plain.drop).toMatchObject({ inMask: null, dWhh: null, input: false, chunk: null });
    // a training workspace run without the options is the plain path too
    a.setState();
    const r1 = forward(a.m, a.ws, a.st, { grad: false });
    expect(a.ws.dropped || a.ws.drop.input || a.ws.drop.chunk !== null).toBe(false);
    expect(r1.lossSum).toBe(r0.lossSum);
    expect(a.r.lossSum).not.toBe(r0.lossSum);
  });
});
