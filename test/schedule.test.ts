// The learning-rate schedules (src/train/schedule.ts): step decay as it always was, and the cosine schedule —
// its warmup ramp, its values against the formula, its floor, its horizon (the step budget: --steps, or
// --epochs in steps; fixed when the run starts) and its refusals.
import { describe, expect, it } from "vitest";
import { resolveTrainConfig, type TrainConfig } from "../src/config.ts";
import { UsageError } from "../src/errors.ts";
import { bendHorizon, cosinePhase, lrAt, stepBudget, withLrHorizon } from "../src/train/schedule.ts";

const cfgOf = (o: Partial<TrainConfig>) => resolveTrainConfig({ ...o, corpus: [] }, { threads: 1, out: "" });

describe("--lr-schedule step (the default)", () => {
  it("is the warmup ramp and step decay of before, and stores no schedule fields", () => {
    const c = cfgOf({ lr: 0.1, lrDecay: 0.5, lrDecayEvery: 10, warmup: 4, steps: 100 });
    expect(c).not.toHaveProperty("lrSchedule");
    expect(c).not.toHaveProperty("lrMin");
    expect(c).not.toHaveProperty("lrHorizon");
    const want = [0.025, 0.05, 0.075, 0.1, 0.1, 0.1, 0.05, 0.025];
    [0, 1, 2, 3, 4, 9, 10, 25].forEach((s, i) => expect(lrAt(c, s)).toBeCloseTo(want[i], 15));
    expect(cfgOf({ lrSchedule: "step", lrMin: 0.01 })).not.toHaveProperty("lrMin"); // dropped (the CLI refuses the flag)
  });
});

describe("--lr-schedule cosine", () => {
  const c = withLrHorizon(cfgOf({ lr: 0.1, lrSchedule: "cosine", lrMin: 0.01, warmup: 10, steps: 110 }), 1000);
  const formula = (s: number) => 0.01 + 0.09 * 0.5 * (1 + Math.cos((Math.PI * (s - 10)) / 100));

  it("its horizon is the step budget, stored in the config", () => {
    expect(c).toMatchObject({ lrSchedule: "cosine", lrMin: 0.01, lrHorizon: 110 });
    expect(withLrHorizon(cfgOf({ lrSchedule: "cosine", epochs: 3 }), 40).lrHorizon).toBe(120);
    expect(withLrHorizon(cfgOf({ lrSchedule: "cosine", epochs: 3, steps: 50 }), 40).lrHorizon).toBe(50); // the smaller
    expect(withLrHorizon(cfgOf({ lrSchedule: "cosine", steps: 50, time: 60 }), 40).lrHorizon).toBe(50);
    expect(stepBudget(cfgOf({ epochs: 2 }), 7)).toBe(14);
    // a run that has one keeps it, whatever its budget now (a resumed run)
    expect(withLrHorizon({ ...c, steps: 500 }, 1000).lrHorizon).toBe(110);
    expect(cfgOf({ lrSchedule: "cosine" })).toMatchObject({ lrMin: 0, steps: 1000 }); // the defaults
  });

  it("ramps up over the warmup, linearly to --lr", () => {
    for (let s = 0; s < 10; s++) expect(lrAt(c, s)).toBeCloseTo((0.1 * (s + 1)) / 10, 15);
    expect(lrAt(c, 10)).toBe(0.1);
  });

  it("then follows lr_min + (lr − lr_min)·½(1 + cos(π (s − w)/(S − w))), decreasing, to the floor at the horizon", () => {
    let prev = Infinity;
    for (let s = 10; s < 110; s++) {
      expect(lrAt(c, s)).toBeCloseTo(formula(s), 15);
      expect(lrAt(c, s)).toBeLessThan(prev);
      prev = lrAt(c, s);
    }
    expect(lrAt(c, 60)).toBeCloseTo(0.055, 15); // half way: the mean of lr and lr_min
    expect(lrAt(c, 109)).toBeGreaterThan(0.01); // the last step of the budget still moves
    expect(lrAt(c, 110)).toBeCloseTo(0.01, 15);
    expect(lrAt(c, 500)).toBeCloseTo(0.01, 15); // past the horizon (a resumed run given more steps): the floor
  });

  it("with --lr-min 0 (the default) it decays to 0; with no warmup it starts at --lr", () => {
    const z = withLrHorizon(cfgOf({ lr: 0.2, lrSchedule: "cosine", steps: 40 }), 1);
    expect(lrAt(z, 0)).toBe(0.2);
    expect(lrAt(z, 20)).toBeCloseTo(0.1, 15);
    expect(lrAt(z, 40)).toBeCloseTo(0, 15);
  });

  it("re-planned (bendHorizon): the phase bends where it stands and runs on to the new horizon, with no jump in the rate", () => {
    // c: warmup 10, horizon 110. At step 60 (phase ½) the horizon becomes 80: the rest of the cosine in 20 steps
    const bent = bendHorizon(c, 60, 80);
    expect(bent).toMatchObject({ lrHorizon: 80, lrBends: [[60, 0.5]] });
    expect(lrAt(bent, 60)).toBe(lrAt(c, 60)); // the rate at the bend is the old plan's, to the bit
    for (let s = 0; s < 60; s++) expect(lrAt(bent, s)).toBeCloseTo(lrAt(c, s), 14); // the steps before it, as they were
    expect(cosinePhase(bent, 70)).toBeCloseTo(0.75, 15); // half of the rest in half of the remaining steps
    expect(lrAt(bent, 80)).toBeCloseTo(0.01, 15);
    expect(lrAt(bent, 79)).toBeGreaterThan(0.01);
    // bent again at 70, longer this time (a machine that sped up): the first bend stays, the phase stays monotone
    const again = bendHorizon(bent, 70, 120);
    expect(again.lrBends).toEqual([[60, 0.5], [70, cosinePhase(bent, 70)]]);
    expect(lrAt(again, 70)).toBe(lrAt(bent, 70));
    let prev = Infinity;
    for (let s = 10; s <= 120; s++) {
      expect(lrAt(again, s)).toBeLessThanOrEqual(prev);
      prev = lrAt(again, s);
    }
    expect(lrAt(again, 120)).toBeCloseTo(0.01, 15);
    // within the warmup the phase has not moved: a new horizon needs no bend, and the rate is the formula's
    const longer = bendHorizon(c, 5, 300);
    expect(longer).not.toHaveProperty("lrBends");
    for (let s = 0; s < 300; s += 7) expect(lrAt(longer, s)).toBeCloseTo(s < 10 ? lrAt(c, s) : 0.01 + 0.09 * 0.5 * (1 + Math.cos((Math.PI * (s - 10)) / 290)), 15);
    // a schedule with no horizon (step decay) is left as it is
    const step = cfgOf({ lr: 0.1 });
    expect(bendHorizon(step, 5, 300)).toBe(step);
  });

  it("refuses what contradicts it, in one line", () => {
    const refused = (o: Partial<TrainConfig>, re: RegExp) => expect(() => withLrHorizon(cfgOf(o), 10)).toThrow(re);
    refused({ lrSchedule: "cosine", time: 60 }, /--lr-schedule cosine needs a step budget.*--steps N or --epochs N/);
    refused({ lrSchedule: "cosine", lr: 0.01, lrMin: 0.1 }, /--lr-min 0.1 is above --lr 0.01/);
    refused({ lrSchedule: "cosine", lrDecay: 0.5, lrDecayEvery: 3 }, /--lr-decay and --lr-decay-every belong to --lr-schedule step/);
    expect(() => cfgOf({ lrSchedule: "cosine", time: 60 })).toThrow(UsageError);
    // the pure function needs its horizon
    expect(() => lrAt(cfgOf({ lrSchedule: "cosine" }), 0)).toThrow(/lrHorizon/);
  });
});
