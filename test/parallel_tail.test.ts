// The tail of an Adam step spread over the training threads (gradient reduction, clipping, update, each
// thread one slice of the slab) against the same step done by the calling thread alone: the same
// parameters up to float rounding (the float64 sum of squares is added up in slices), with clipping active,
// for 2 and 3 threads; and the slices tile the slab.
import { describe, expect, it } from "vitest";
import { resolveTrainConfig, type TrainConfig } from "../src/config.ts";
import { makeBatcher } from "../src/corpus/batches.ts";
import { createWasmKernels } from "../src/kernels/wasm.ts";
import { initParams } from "../src/model/init.ts";
import { createModel } from "../src/model/model.ts";
import { makeRng } from "../src/rng.ts";
import type { Engine } from "../src/train/engine.ts";
import { createOptimizerState } from "../src/train/optim.ts";
import { createParallelEngine, slabSlice } from "../src/train/parallel.ts";
import { makeStepper } from "../src/train/step.ts";

describe("slabSlice", () => {
  it("tiles [0, P) in n slices on 16-element boundaries", () => {
    for (const [P, n] of [[1, 2], [100, 3], [4099, 2], [65536, 4]]) {
      let at = 0;
      for (let i = 0; i < n; i++) {
        const [lo, hi] = slabSlice(P, n, i);
        expect(lo).toBe(at);
        expect(hi).toBeGreaterThanOrEqual(lo);
        if (i < n - 1) expect(hi % 16).toBe(0);
        at = hi;
      }
      expect(at).toBe(P);
    }
  });
});

describe("Adam step spread over the threads", () => {
  for (const threads of [2, 3]) {
    it(`${threads} threads: same parameters as the calling thread alone, clipping included`, async () => {
      const ops = createWasmKernels();
      const V = 11, B = 6, T = 8, chunks = 4;
      const rng0 = makeRng(5);
      const ids = Uint16Array.from({ length: B * T * chunks + 1 }, () => rng0.int(V));
      const run = async (spread: boolean) => {
        const cfg: TrainConfig = resolveTrainConfig(
          { model: { cell: "lstm", layers: 2, hidden: 24, vocabSize: V }, batch: B, seq: T, steps: 1, clip: 0.05, threads, corpus: [] },
          { threads, out: "" },
        );
        const model = createModel(cfg.model, ops);
        initParams(model, cfg, makeRng(9));
        const engine = await createParallelEngine(model, cfg, makeBatcher(ids, B, T), ids, threads);
        expect(typeof engine.reduceGrads).toBe("function");
        const used: Engine = spread ? engine : { ...engine, reduceGrads: undefined, adamUpdate: undefined };
        const opt = createOptimizerState(cfg, model.spec.size, (n) => ops.alloc(n));
        const step = makeStepper(model, cfg, used, opt);
        const rng = makeRng(3), norms: number[] = [];
        for (let s = 0; s < 6; s++) norms.push(step(s % chunks, rng, 1e-2).gradNorm);
        await engine.dispose();
        return { params: Float64Array.from(model.params.data), norms, optStep: opt.step };
      };
      const a = await run(true), b = await run(false);
      expect(a.optStep).toBe(6);
      expect(b.optStep).toBe(6);
      expect(a.norms.every((x) => x > 0.05)).toBe(true); // every step clipped
      for (let i = 0; i < 6; i++) expect(Math.abs(a.norms[i] - b.norms[i])).toBeLessThan(1e-6 * b.norms[i]);
      let scale = 0, err = 0;
      for (let i = 0; i < a.params.length; i++) {
        scale = Math.max(scale, Math.abs(b.params[i]));
        err = Math.max(err, Math.abs(a.params[i] - b.params[i]));
      }
      expect(err / scale).toBeLessThan(1e-5);
    });
  }
});
