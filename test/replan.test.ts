// An auto-sized run (--time alone) plans its step horizon again from its own speed, first after 3% of its time
// and then every 10% until 95% (src/train/autosize.ts: replanAfter, replanNext, replanHorizon; src/train/train.ts):
// a second of measuring can catch the machine in a burst, a shared machine's speed drifts, and a horizon planned
// too long leaves the cosine far above its floor when the clock stops the run. Each plan bends the cosine where
// it stands (src/train/schedule.ts, bendHorizon): the rate runs on without a jump. Driven by a clock of the
// test's own (train's `now`), so that the speeds, the steps of the plans and the horizons are exact: the run then
// ends by its steps at the cosine's floor, and its checkpoint holds the horizon, the bends and the record of the
// plans; a run not auto-sized, and a resumed one, never plan again.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type AutoSizeRecord, resolveTrainConfig, type TrainConfig } from "../src/config.ts";
import { loadModel, loadRunSettings, resumeConfig } from "../src/checkpoint/checkpoint.ts";
import { createWasmKernels } from "../src/kernels/wasm.ts";
import { AUTOSIZE, emaFor, replanAfter, replanHorizon, replanNext } from "../src/train/autosize.ts";
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
  it("replanAfter: 3% of the time, at least 10 s; replanNext: every 10% (at least 10 s) until 95%; replanHorizon: the steps taken and REPLAN_SAFETY × what the rest buys at the speed since the last plan", () => {
    expect(replanAfter(3600)).toBeCloseTo(108);
    expect(replanAfter(132)).toBe(AUTOSIZE.REPLAN_MIN_SECONDS);
    expect(replanNext(108, 3600)).toBeCloseTo(468);
    expect(replanNext(10, 132)).toBeCloseTo(23.2);
    expect(replanNext(10, 50)).toBe(20); // at least REPLAN_MIN_SECONDS apart
    expect(replanNext(3300, 3600)).toBe(Infinity); // 3660 s is past 95% of the hour
    expect(replanNext(40, 50)).toBe(Infinity);
    // 100 steps in 50 s, 950 s left: 2 steps a second × 950 × 0.97 = 1843 more
    const S = AUTOSIZE.REPLAN_SAFETY;
    expect(replanHorizon({ step: 100, since: { step: 0, elapsed: 0 }, elapsed: 50, time: 1000 })).toBe(100 + Math.floor(2 * 950 * S));
    // the speed is the one kept since the last plan: 10 steps in the last 10 s
    expect(replanHorizon({ step: 100, since: { step: 90, elapsed: 40 }, elapsed: 50, time: 1000 })).toBe(100 + Math.floor(950 * S));
    expect(replanHorizon({ step: 10, since: { step: 0, elapsed: 0 }, elapsed: 99.99, time: 100 })).toBe(11); // at least one more
  });

  it("a run slower than planned: planned again at 10, 40 and 70 s, each a bend of the cosine; it ends by its steps at the floor, and its checkpoint says so", async () => {
    // planned 1000 steps in 100 s; the clock says a step takes a second (0.5 s a read, two reads a step):
    // at 10 s, 10 + ⌊90 × 0.97⌋ = 97; at 20 and 30 s the same; at 40 s, 40 + ⌊60 × 0.97⌋ = 98; at 70 s, 99
    const cfg = cfgOf({ steps: 1000, time: 100, autoSize: RECORD });
    const { end, events, steps } = await run(cfg, 0.5);
    expect(events.filter((e) => e.type === "replan")).toEqual([
      { type: "replan", step: 10, elapsed: 10, since: 0, charsPerSec: 32, planned: 1000, steps: 97 },
      { type: "replan", step: 40, elapsed: 40, since: 30, charsPerSec: 32, planned: 97, steps: 98 },
      { type: "replan", step: 70, elapsed: 70, since: 60, charsPerSec: 32, planned: 98, steps: 99 },
    ]);
    expect(end).toMatchObject({ reason: "steps", step: 99 });
    // the steps after a plan are counted against the new horizon
    expect(steps[9].totalSteps).toBe(1000);
    expect(steps[10].totalSteps).toBe(97);
    expect(steps.at(-1)!.totalSteps).toBe(99);
    // the cosine's phase where each plan bent it: 10/1000, then on along each plan's line
    const u1 = 10 / 1000, u2 = u1 + ((1 - u1) * 30) / 87, u3 = u2 + ((1 - u2) * 30) / 58;
    const saved = loadRunSettings(cfg.out, 99)!.config as TrainConfig;
    expect(saved).toMatchObject({ steps: 99, lrHorizon: 99, autoSize: { ...RECORD, replanned: { step: 70, elapsed: 70, charsPerSec: 32, was: 98, steps: 99, times: 3 } } });
    expect(saved.lrBends!.map((b) => b[0])).toEqual([10, 40, 70]);
    saved.lrBends!.forEach(([, u], i) => expect(u).toBeCloseTo([u1, u2, u3][i], 14));
    // the stored config alone gives every rate the run took (lrAt is a pure function of it) …
    for (const e of steps) expect(e.lr, `step ${e.step}`).toBeCloseTo(lrAt(saved, e.step - 1), 12);
    // … with no jump at a bend: the first step after one takes the rate the plan before it gave
    expect(steps[10].lr).toBe(lrAt({ ...cfg, lrHorizon: 1000 }, 10));
    expect(steps[40].lr).toBeCloseTo(lrAt({ ...cfg, lrHorizon: 97, lrBends: [[10, u1]] }, 40), 14);
    // and the last step's rate is the floor's neighbour
    expect(steps.at(-1)!.lr).toBeLessThan(5e-4 * 1.01);
  }, 60_000);

  it("a machine that slows down half way: the plan after it shortens the horizon, and the cosine still reaches its floor before the clock", async () => {
    // a second a step for 50 steps, then two: at 10 s, 97; at 40 s, 98; at 60 s (step 55), from the 5 steps since
    // the plan at 50 s, 55 + ⌊0.5 × 40 × 0.97⌋ = 74
    // (with one plan only, the clock would have stopped it at step 75 with 97 planned: 77% of its cosine)
    let t = 0, reads = 0;
    const cfg = cfgOf({ steps: 1000, time: 100, autoSize: RECORD });
    const events: TrainEvent[] = [];
    const end = await train({ cfg, vocab, ids, kernels: createWasmKernels(), onEvent: (e) => events.push(e), now: () => (t += ++reads <= 101 ? 0.5 : 1) });
    expect(events.filter((e) => e.type === "replan")).toMatchObject([
      { step: 10, planned: 1000, steps: 97 },
      { step: 40, elapsed: 40, since: 30, planned: 97, steps: 98 },
      { step: 55, elapsed: 60, since: 50, charsPerSec: 16, planned: 98, steps: 74 },
    ]);
    expect(end).toMatchObject({ reason: "steps", step: 74 });
    expect(end.elapsed).toBeLessThan(100);
    const last = events.filter((e) => e.type === "step").at(-1)! as TrainEvent & { type: "step" };
    expect(last.lr).toBeLessThan(5e-4 * 1.05);
  }, 60_000);

  it("an average the rule chose (--ema, autoSize.emaShare) is planned again with the horizon; one given is not", async () => {
    // planned 1000 steps with an average over 0.1 of them (100); re-planned to 97, 98 and 99 steps: over 10
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
    expect(events.filter((e) => e.type === "replan")).toMatchObject([
      { step: 10, planned: 1000, steps: 97, ema: emaFor(97, 0.1) }, { step: 40, steps: 98, ema: emaFor(98, 0.1) }, { step: 70, steps: 99, ema: emaFor(99, 0.1) },
    ]);
    expect(emaFor(97, 0.1)).toBeCloseTo(1 - 1 / 10, 15);
    expect(loadRunSettings(chosen.out, 99)!.config).toMatchObject({ steps: 99, ema: emaFor(99, 0.1), autoSize: { emaShare: 0.1 } });
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
    const plans = b.events.filter((e) => e.type === "replan");
    expect(plans.map((e) => e.type === "replan" && [e.step, e.steps])).toEqual([[10, 97], [40, 98], [70, 99]]);
    for (const e of plans) expect(e).not.toHaveProperty("ema");
    expect(loadRunSettings(given.out, 99)!.config).toMatchObject({ steps: 99, ema: 0.99 });
  }, 60_000);

  it("a run faster than planned gets more steps; a run not auto-sized and a resumed run are never planned again", async () => {
    // planned 100 steps in 100 s; a step takes 0.25 s: at 10 s (step 40) the plan is 40 + ⌊4 × 90 × 0.97⌋ = 389,
    // and the later plans follow the clock to its end
    const fast = await run(cfgOf({ steps: 100, time: 100, autoSize: RECORD }), 0.125);
    const plans = fast.events.filter((e) => e.type === "replan") as (TrainEvent & { type: "replan" })[];
    expect(plans[0]).toMatchObject({ step: 40, planned: 100, steps: 389 });
    for (const [a, b] of plans.slice(1).map((p, i) => [plans[i], p])) expect(b.steps).toBeGreaterThan(a.steps);
    expect(fast.end).toMatchObject({ reason: "steps", step: plans.at(-1)!.steps });
    expect(fast.end.step).toBeGreaterThanOrEqual(396); // 400 fit in the time

    const plain = await run(cfgOf({ steps: 1000, time: 30 }), 0.5);
    expect(plain.events.some((e) => e.type === "replan")).toBe(false);
    expect(plain.end).toMatchObject({ reason: "time", step: 30 });

    // planned 100 steps in 40 s, a step a second: at 10 s the plan is 10 + ⌊30 × 0.97⌋ = 39 (at 20 and 30 s the
    // same); resumed to 45 (no clock)
    const cfg = cfgOf({ steps: 100, time: 40, autoSize: RECORD });
    expect((await run(cfg, 0.5)).end).toMatchObject({ reason: "steps", step: 39 });
    const stored = resumeConfig(loadModel(path.join(cfg.out, "latest.safetensors"), createWasmKernels()).meta.config, loadRunSettings(cfg.out, 39)!.config, cfg.out);
    expect(stored).toMatchObject({ steps: 39, lrHorizon: 39, lrBends: [[10, 0.1]], autoSize: { replanned: { step: 10, was: 100, steps: 39, times: 1 } } });
    const resumed = await run({ ...stored, steps: 45, time: 0 }, 0.5, true);
    expect(resumed.events.some((e) => e.type === "replan")).toBe(false);
    expect(resumed.end).toMatchObject({ reason: "steps", step: 45 });
  }, 60_000);
});
