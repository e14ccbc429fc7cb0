// An auto-sized run (--time alone) plans its step horizon again, once, from its own speed (src/train/autosize.ts,
// replanAfter and replanHorizon; src/train/train.ts): a second of measuring can catch the machine in a burst,
// and a horizon planned too long leaves the cosine far above its floor when the clock stops the run. Driven by
// a clock of the test's own (train's `now`), so that the speed, the step of the new plan and the new horizon
// are exact: the run then ends by its steps, at the cosine's floor, and its checkpoint holds the new horizon
// and the record of the plan; a run not auto-sized, and a resumed one, never plan again.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type AutoSizeRecord, resolveTrainConfig, type TrainConfig } from "../src/config.ts";
import { loadModel, loadRunSettings, resumeConfig } from "../src/checkpoint/checkpoint.ts";
import { createWasmKernels } from "../src/kernels/wasm.ts";
import { AUTOSIZE, emaFor, replanAfter, replanHorizon } from "../src/train/autosize.ts";
import { lrAt } from "../src/train/schedule.ts";
import { train, type TrainEvent } from "../src/train/train.ts";

const text = "the king and the queen of a small river town sang to every bird in May\n".repeat(40);
const vocab = [...new Set(text)].sort();
const ids = Uint16Array.from([...text], (c) => vocab.indexOf(c));
const base = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-replan-"));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
let dirs = 0;

const RECORD: AutoSizeRecord = { budget: 100, charsPerSec: 1000, reference: "lstm 2×256 B50 T50 given as 1.00k chars/s", rule: "test" };
/** a run planned for `steps` steps in `time` seconds, on a cosine from 1e-2 to 5e-4 */
const cfgOf = (o: { steps: number; time: number; autoSize?: AutoSizeRecord }) => resolveTrainConfig(
  {
    model: { cell: "lstm", layers: 1, hidden: 8, vocabSize: vocab.length }, batch: 4, seq: 8, steps: o.steps, time: o.time,
    lr: 1e-2, lrSchedule: "cosine", lrMin: 5e-4, valFrac: 0, evalEvery: 1000, checkpointEvery: 1000, threads: 1, corpus: [],
    ...(o.autoSize ? { autoSize: o.autoSize } : {}),
  },
  { threads: 1, out: path.join(base, `run${dirs++}`) },
);

/** trains with a clock that moves `perCall` seconds each time train reads it (twice a step) */
async function run(cfg: TrainConfig, perCall: number, resume = false) {
  let t = 0;
  const events: TrainEvent[] = [];
  const end = await train({ cfg, vocab, ids, kernels: createWasmKernels(), onEvent: (e) => events.push(e), resume, now: () => (t += perCall) });
  return { end, events, steps: events.filter((e) => e.type === "step") as (TrainEvent & { type: "step" })[] };
}

describe("the horizon planned again from the run's own speed", () => {
  it("replanAfter: 3% of the time, at least 10 s; replanHorizon: the steps taken and SAFETY × what the rest buys", () => {
    expect(replanAfter(3600)).toBeCloseTo(108);
    expect(replanAfter(132)).toBe(AUTOSIZE.REPLAN_MIN_SECONDS);
    // 100 steps in 50 s, 950 s left: 2 steps a second × 950 × 0.93 = 1767 more
    expect(replanHorizon({ step: 100, startStep: 0, elapsed: 50, time: 1000 })).toBe(100 + Math.floor(2 * 950 * AUTOSIZE.SAFETY));
    // counted from where a run started, and at least one step more
    expect(replanHorizon({ step: 130, startStep: 30, elapsed: 50, time: 1000 })).toBe(130 + Math.floor(2 * 950 * AUTOSIZE.SAFETY));
    expect(replanHorizon({ step: 10, startStep: 0, elapsed: 99.99, time: 100 })).toBe(11);
  });

  it("a run slower than planned: planned again at 10 s, it ends by its steps at the cosine's floor, and its checkpoint says so", async () => {
    // planned 1000 steps in 100 s; the clock says a step takes a second (0.5 s a read, two reads a step)
    const cfg = cfgOf({ steps: 1000, time: 100, autoSize: RECORD });
    const { end, events, steps } = await run(cfg, 0.5);
    const replans = events.filter((e) => e.type === "replan");
    const want = replanHorizon({ step: 10, startStep: 0, elapsed: 10, time: 100 }); // 10 + ⌊1 × 90 × 0.93⌋ = 93
    expect(want).toBe(93);
    expect(replans).toEqual([{ type: "replan", step: 10, elapsed: 10, charsPerSec: 32, planned: 1000, steps: want }]);
    expect(end).toMatchObject({ reason: "steps", step: want });
    // the steps after the plan are counted against the new horizon, and the last one's rate is the floor's neighbour
    expect(steps[9].totalSteps).toBe(1000);
    expect(steps[10].totalSteps).toBe(want);
    const last = steps.at(-1)!;
    expect(last.lr).toBeCloseTo(lrAt({ ...cfg, lrHorizon: want }, want - 1), 12);
    expect(last.lr).toBeLessThan(5e-4 * 1.01);
    const saved = loadRunSettings(cfg.out, want)!.config;
    expect(saved).toMatchObject({ steps: want, lrHorizon: want, autoSize: { ...RECORD, replanned: { step: 10, elapsed: 10, charsPerSec: 32, was: 1000, steps: want } } });
  }, 60_000);

  it("an average the rule chose (--ema, autoSize.emaShare) is planned again with the horizon; one given is not", async () => {
    // planned 1000 steps with an average over 0.1 of them (100); re-planned to 93 steps: over 9
    const chosen = cfgOf({ steps: 1000, time: 100, autoSize: { ...RECORD, emaShare: 0.1 } });
    chosen.ema = emaFor(1000, 0.1);
    expect(chosen.ema).toBeCloseTo(1 - 1 / 100, 15);
    // the rule of src/train/average.ts written out from the weights after every step, with the decay re-planned at step 10
    let t = 0, avg: Float64Array | null = null, old: Float64Array | null = null, decay = chosen.ema;
    const events: TrainEvent[] = [];
    await train({
      cfg: chosen, vocab, ids, kernels: createWasmKernels(), now: () => (t += 0.5),
      onEvent: (e, model) => {
        events.push(e);
        const w = model.params.data;
        if (e.type === "start") [avg, old] = [Float64Array.from(w), Float64Array.from(w)];
        if (e.type === "step") {
          const d = Math.min(decay, (1 + e.step) / (10 + e.step)), dOld = Math.min(chosen.ema!, (1 + e.step) / (10 + e.step));
          for (let i = 0; i < w.length; i++) {
            avg![i] = d * avg![i] + (1 - d) * w[i];
            old![i] = dOld * old![i] + (1 - dOld) * w[i];
          }
        }
        if (e.type === "replan") decay = e.ema!;
      },
    });
    expect(events.filter((e) => e.type === "replan")).toEqual([{ type: "replan", step: 10, elapsed: 10, charsPerSec: 32, planned: 1000, steps: 93, ema: emaFor(93, 0.1) }]);
    expect(emaFor(93, 0.1)).toBeCloseTo(1 - 1 / 9, 15);
    expect(loadRunSettings(chosen.out, 93)!.config).toMatchObject({ steps: 93, ema: emaFor(93, 0.1), autoSize: { emaShare: 0.1 } });
    const saved = loadModel(path.join(chosen.out, "latest.safetensors"), createWasmKernels()).model.params.data;
    let diff = 0, fromOld = 0;
    for (let i = 0; i < saved.length; i++) {
      diff = Math.max(diff, Math.abs(saved[i] - avg![i]));
      fromOld = Math.max(fromOld, Math.abs(saved[i] - old![i]));
    }
    expect(diff).toBeLessThan(1e-5);
    expect(fromOld).toBeGreaterThan(1e-3); // the decay planned first would have made another model
    const given = cfgOf({ steps: 1000, time: 100, autoSize: RECORD });
    given.ema = 0.99;
    const b = await run(given, 0.5);
    expect(b.events.filter((e) => e.type === "replan")).toEqual([{ type: "replan", step: 10, elapsed: 10, charsPerSec: 32, planned: 1000, steps: 93 }]);
    expect(loadRunSettings(given.out, 93)!.config).toMatchObject({ steps: 93, ema: 0.99 });
  }, 60_000);

  it("a run faster than planned gets more steps; a run not auto-sized and a resumed run are never planned again", async () => {
    // planned 100 steps in 100 s; a step takes 0.25 s: at 10 s (step 40) the plan is 40 + ⌊4 × 90 × 0.93⌋ = 374
    const fast = await run(cfgOf({ steps: 100, time: 100, autoSize: RECORD }), 0.125);
    expect(fast.events.filter((e) => e.type === "replan")).toMatchObject([{ step: 40, planned: 100, steps: 374 }]);
    expect(fast.end).toMatchObject({ reason: "steps", step: 374 });

    const plain = await run(cfgOf({ steps: 1000, time: 30 }), 0.5);
    expect(plain.events.some((e) => e.type === "replan")).toBe(false);
    expect(plain.end).toMatchObject({ reason: "time", step: 30 });

    // planned 100 steps in 40 s, a step a second: at 10 s the plan is 10 + ⌊30 × 0.93⌋ = 37; resumed to 45 (no clock)
    const cfg = cfgOf({ steps: 100, time: 40, autoSize: RECORD });
    expect((await run(cfg, 0.5)).end).toMatchObject({ reason: "steps", step: 37 });
    const stored = resumeConfig(loadModel(path.join(cfg.out, "latest.safetensors"), createWasmKernels()).meta.config, loadRunSettings(cfg.out, 37)!.config, cfg.out);
    expect(stored).toMatchObject({ steps: 37, lrHorizon: 37, autoSize: { replanned: { step: 10, was: 100, steps: 37 } } });
    const resumed = await run({ ...stored, steps: 45, time: 0 }, 0.5, true);
    expect(resumed.events.some((e) => e.type === "replan")).toBe(false);
    expect(resumed.end).toMatchObject({ reason: "steps", step: 45 });
  }, 60_000);
});
