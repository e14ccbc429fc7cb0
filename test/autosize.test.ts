// --time auto-sizing's rule (src/train/autosize.ts), as a pure function: the model never shrinks when the
// budget grows, the corpus size moves the dropout (and caps the model), settings given win, the horizon and the
// schedule are what the rule says, and the speed estimate of the calibration (src/bench/bench.ts) scales the
// reference by FLOPs. The constants are read from the table, so the tests hold when they are retuned.
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { calibrationOf, trainFlops } from "../src/bench/bench.ts";
import { formatDefault } from "../src/cli/options.ts";
import { configFromSettings, type TrainSettings } from "../src/config.ts";
import { paramSpec } from "../src/model/params.ts";
import { AUTOSIZE, type BudgetInput, chooseForBudget, ruleOf, type Shape } from "../src/train/autosize.ts";
import { lrAt, withLrHorizon } from "../src/train/schedule.ts";

const V = 65;
/** a machine whose reference workload trains at 20k chars/s, every rung at its FLOP-predicted speed */
const speedOf = calibrationOf(20_000, V, "given as").speedOf;
const input = (o: Partial<BudgetInput>): BudgetInput => ({
  budget: 600, spent: 0, corpusChars: 5_000_000, vocabSize: V, threads: 2, speedOf, given: {}, measured: "test speed", ...o,
});
const BUDGETS = Array.from({ length: 40 }, (_, i) => Math.round(10 * Math.pow(1.4, i))); // 10 s … about 5 days

describe("chooseForBudget", () => {
  it("is monotone in the budget: a larger budget never picks a smaller model, nor a shorter horizon", () => {
    for (const corpusChars of [30_000, 1_000_000, 50_000_000]) {
      let hidden = 0, steps = 0;
      const seen = new Set<number>();
      for (const budget of BUDGETS) {
        const c = chooseForBudget(input({ budget, corpusChars }));
        const h = c.settings.hidden!;
        expect(h, `${corpusChars} chars, ${budget}s`).toBeGreaterThanOrEqual(hidden);
        if (h === hidden) expect(c.steps).toBeGreaterThanOrEqual(steps);
        hidden = h;
        steps = c.steps;
        seen.add(h);
      }
      // a large corpus walks the whole ladder as the budget grows
      if (corpusChars === 50_000_000) expect([...seen]).toEqual(AUTOSIZE.LADDER.map((r) => r.hidden));
    }
  });

  it("picks the largest rung that takes its minSteps steps and sees CHARS_PER_PARAM characters per parameter, the first when none does", () => {
    const params = (hidden: number) => paramSpec({ cell: "lstm", layers: 2, hidden, embed: 0, activation: "tanh", residual: false, vocabSize: V }).size;
    const r1 = AUTOSIZE.LADDER[1];
    const speed1 = chooseForBudget(input({ given: { hidden: r1.hidden } })).charsPerSec; // rung 1 as it would run
    // the budget at which rung 1 just qualifies: the larger of the two thresholds
    const need = Math.max(AUTOSIZE.CHARS_PER_PARAM * params(r1.hidden), r1.minSteps * r1.batch * r1.seq);
    const budget = need / (speed1 * AUTOSIZE.SAFETY);
    expect(chooseForBudget(input({ budget: budget * 1.01 })).settings.hidden).toBe(r1.hidden);
    expect(chooseForBudget(input({ budget: budget * 0.99 })).settings.hidden).toBe(AUTOSIZE.LADDER[0].hidden);
    expect(chooseForBudget(input({ budget: 0.5 })).settings.hidden).toBe(AUTOSIZE.LADDER[0].hidden);
    // the time spent measuring comes off the budget
    const spent = budget * 0.03;
    expect(chooseForBudget(input({ budget: budget * 1.01 + spent, spent })).settings.hidden).toBe(r1.hidden);
    expect(chooseForBudget(input({ budget: budget * 1.01, spent })).settings.hidden).toBe(AUTOSIZE.LADDER[0].hidden);
  });

  it("the horizon is ⌊speed × (budget − spent) × SAFETY / (B·T)⌋, and the run's --time what is left of the budget", () => {
    const c = chooseForBudget(input({ budget: 300, spent: 2.5 }));
    const B = c.settings.batch!, T = c.settings.seq!;
    expect(c.steps).toBe(Math.floor((c.charsPerSec * 297.5 * AUTOSIZE.SAFETY) / (B * T)));
    expect(c.settings.steps).toBe(c.steps);
    expect(c.time).toBe(297.5);
    expect(c.evalEvery).toBe(Math.max(AUTOSIZE.EVAL_MIN, Math.round(c.steps / AUTOSIZE.EVALS)));
  });

  it("the weights are averaged (--ema) with a time constant of EMA_SHARE × the horizon; --ema given is kept, --ortho-opt given gets none", () => {
    for (const budget of [30, 600, 3600, 3600 * 24 * 365]) { // a year: a time constant in the millions, still below 1
      const c = chooseForBudget(input({ budget }));
      const tau = 1 / (1 - c.settings.ema!);
      expect(Math.abs(tau - AUTOSIZE.EMA_SHARE * c.steps) / (AUTOSIZE.EMA_SHARE * c.steps), `${budget}s`).toBeLessThan(0.01 + 2 / c.steps);
      expect(c.lines[1]).toContain(`weights averaged over ~${Math.round(tau)} steps (--ema ${Number(c.settings.ema!.toPrecision(6))})`);
      expect(c.settings.ema!).toBeLessThan(1);
    }
    const given = chooseForBudget(input({ given: { ema: 0.99 } }));
    expect(given.settings).not.toHaveProperty("ema");
    expect(given.lines.at(-1)).toContain("--ema");
    const off = chooseForBudget(input({ given: { ema: 0 } }));
    expect(off.settings).not.toHaveProperty("ema");
    expect(off.lines[1]).not.toContain("averaged");
    const cayley = chooseForBudget(input({ given: { orthoOpt: "cayley" } }));
    expect(cayley.settings).not.toHaveProperty("ema");
    // the config built from the choice stores it (and --ortho-opt with the rule's choice is not refused)
    const build = (c: ReturnType<typeof chooseForBudget>, g: Partial<TrainSettings>) => configFromSettings({ ...g, ...c.settings }, [], { threads: 1, out: "x" });
    expect(build(chooseForBudget(input({})), {}).ema).toBe(chooseForBudget(input({})).settings.ema);
    expect(build(cayley, { orthoOpt: "cayley" })).not.toHaveProperty("ema");
  });

  it("the corpus size moves the dropout: more epochs in the same budget, more dropout (up to the rung's)", () => {
    const given: Partial<TrainSettings> = { hidden: AUTOSIZE.LADDER.at(-1)!.hidden }; // the same model on both corpora
    const big = chooseForBudget(input({ budget: 3600, corpusChars: 500_000_000, given }));
    const small = chooseForBudget(input({ budget: 3600, corpusChars: 300_000, given }));
    expect(big.settings.dropout).toBe(AUTOSIZE.DROPOUT_BY_EPOCHS[0].dropout);
    expect(small.settings.dropout!).toBeGreaterThan(big.settings.dropout!);
    expect(small.settings.dropout!).toBeLessThanOrEqual(AUTOSIZE.LADDER.at(-1)!.dropout);
    // dropout never decreases as the corpus shrinks
    let last = -1;
    for (const corpusChars of [1e9, 1e8, 1e7, 1e6, 3e5, 1e5, 3e4]) {
      const d = chooseForBudget(input({ budget: 3600, corpusChars, given })).settings.dropout!;
      expect(d, `${corpusChars}`).toBeGreaterThanOrEqual(last);
      last = d;
    }
  });

  it("--dropout-mode locked given: kept where the rule chooses dropout, set back to element (and said) where it chooses none", () => {
    const given: Partial<TrainSettings> = { hidden: AUTOSIZE.LADDER.at(-1)!.hidden, dropoutMode: "locked" };
    const none = chooseForBudget(input({ budget: 3600, corpusChars: 500_000_000, given }));
    expect(none.settings.dropout).toBe(0);
    expect(none.settings.dropoutMode).toBe("element");
    expect(none.lines).toContainEqual(expect.stringMatching(/^ {2}--dropout-mode locked: no masks to lock, dropout 0 for 0\.\d epochs \(--dropout P sets some\)$/));
    const some = chooseForBudget(input({ budget: 3600, corpusChars: 300_000, given }));
    expect(some.settings.dropout!).toBeGreaterThan(0);
    expect(some.settings).not.toHaveProperty("dropoutMode");
    expect(some.lines.join("\n")).not.toContain("--dropout-mode");
    // the config the run is built from: locked where there is dropout, no mode stored where there is none
    const build = (c: typeof none) => configFromSettings({ ...given, ...c.settings }, ["x.txt"], { threads: 2, out: "runs/x" });
    expect(build(some).dropoutMode).toBe("locked");
    expect(build(none)).not.toHaveProperty("dropoutMode");
  });

  it("a small corpus caps the model: at most PARAMS_PER_CHAR parameters per training character", () => {
    const roomy = chooseForBudget(input({ budget: 1e6, corpusChars: 1e9 }));
    expect(roomy.settings.hidden).toBe(AUTOSIZE.LADDER.at(-1)!.hidden);
    const tight = chooseForBudget(input({ budget: 1e6, corpusChars: 100_000 }));
    expect(tight.settings.hidden!).toBeLessThan(roomy.settings.hidden!);
    const m = { cell: "lstm" as const, layers: tight.settings.layers!, hidden: tight.settings.hidden!, embed: 0, activation: "tanh" as const, residual: false, vocabSize: V };
    if (tight.settings.hidden !== AUTOSIZE.LADDER[0].hidden) expect(paramSpec(m).size).toBeLessThanOrEqual(AUTOSIZE.PARAMS_PER_CHAR * 100_000);
  });

  it("calibration: the first min(CALIBRATION_FRAC_MAX, CALIBRATION_CHARS / corpus) held out, none under CALIBRATION_MIN_CHARS; a given --calibrate wins", () => {
    const t = AUTOSIZE;
    for (const corpusChars of [1_003_854, 5_000_000, 100_000_000]) {
      const c = chooseForBudget(input({ corpusChars }));
      const frac = Math.min(t.CALIBRATION_FRAC_MAX, Number((t.CALIBRATION_CHARS / corpusChars).toPrecision(2)));
      expect(c.settings.calibrate, `${corpusChars}`).toBe(frac);
      const held = Math.floor(corpusChars * frac);
      expect(held).toBeGreaterThanOrEqual(t.CALIBRATION_MIN_CHARS);
      const said = c.lines.map((l) => /^ {2}the first ([\d.]+)k characters held out to fit the final model's temperature \(--calibrate ([\d.e-]+); --calibrate 0: none\)$/.exec(l)).find((m) => m);
      expect(said, c.lines.join("\n")).toBeTruthy();
      expect(Number(said![1])).toBeCloseTo(held / 1e3, 1);
      expect(Number(said![2])).toBe(frac);
      // the epochs the horizon makes count the characters left to train on
      const trainChars = corpusChars - held - Math.floor(corpusChars * c.valFrac);
      expect(c.lines[1]).toContain(`(${((c.steps * c.settings.batch! * c.settings.seq!) / trainChars).toFixed(1)} epochs of `);
    }
    // a corpus whose share is under CALIBRATION_MIN_CHARS is not calibrated
    const small = Math.floor((t.CALIBRATION_MIN_CHARS - 1) / t.CALIBRATION_FRAC_MAX);
    expect(chooseForBudget(input({ corpusChars: small })).settings).not.toHaveProperty("calibrate");
    // given: kept out of the chosen settings (0 turns it off), and said
    const off = chooseForBudget(input({ given: { calibrate: 0 } }));
    expect(off.settings).not.toHaveProperty("calibrate");
    expect(off.lines.join("\n")).not.toContain("temperature");
    const own = chooseForBudget(input({ given: { calibrate: 0.1 } }));
    expect(own.settings).not.toHaveProperty("calibrate");
    expect(own.lines).toContainEqual(expect.stringMatching(/held out to fit the final model's temperature \(--calibrate 0\.1, given\)$/));
    // the config built from the choice stores it
    expect(configFromSettings(chooseForBudget(input({})).settings, [], { threads: 1, out: "x" }).calibrate).toBe(chooseForBudget(input({})).settings.calibrate);
  });

  it("validation: valFrac = min(VAL_FRAC_MAX, VAL_CHARS / corpus characters); a given --val-frac wins", () => {
    for (const corpusChars of [100_000, 100_000_000]) {
      expect(chooseForBudget(input({ corpusChars })).valFrac).toBeCloseTo(Math.min(AUTOSIZE.VAL_FRAC_MAX, AUTOSIZE.VAL_CHARS / corpusChars), 6);
      expect(chooseForBudget(input({ corpusChars, given: { valFrac: 0.1 } })).valFrac).toBe(0.1);
    }
  });

  it("settings given win: kept out of the chosen ones; a given --hidden fixes the width, the horizon is that shape's", () => {
    const asked: Shape[] = [];
    const spy = (s: Shape) => (asked.push(s), speedOf(s));
    const given: Partial<TrainSettings> = { hidden: 64, batch: 32, lr: 0.01, dropout: 0.5, evalEvery: 7, valFrac: 0.2 };
    const c = chooseForBudget(input({ budget: 120, speedOf: spy, given }));
    for (const k of Object.keys(given)) expect(c.settings, k).not.toHaveProperty(k);
    expect(c.valFrac).toBe(0.2);
    expect(c.evalEvery).toBe(7);
    const chosen = asked.at(-1)!; // the horizon's speed: the shape that will run
    expect(chosen.model.hidden).toBe(64);
    expect(chosen.batch).toBe(32);
    expect(c.steps).toBe(Math.floor((speedOf(chosen) * 120 * AUTOSIZE.SAFETY) / (32 * chosen.seq)));
    expect(c.lines.join("\n")).toMatch(/kept from the command line: .*--hidden/);
    // the rung of the nearest width supplies the rest: 64 is nearest the first
    expect(c.settings.seq).toBe(AUTOSIZE.LADDER[0].seq);
    // other shape settings apply to every rung before the walk: --layers 3 walks 3-layer models
    const three = chooseForBudget(input({ budget: 1e5, corpusChars: 1e9, given: { layers: 3 } }));
    expect(three.settings).not.toHaveProperty("layers");
    expect(three.settings.hidden).toBe(AUTOSIZE.LADDER.at(-1)!.hidden);
  });

  it("the schedule is a cosine from lr to LR_END × lr over the horizon; a schedule given is left alone", () => {
    for (const budget of [5, 60, 3600]) {
      const c = chooseForBudget(input({ budget }));
      expect(c.settings).toMatchObject({ lrSchedule: "cosine", lrMin: Number((c.settings.lr! * AUTOSIZE.LR_END).toPrecision(3)) });
      const cfg = withLrHorizon(configFromSettings({ ...c.settings }, ["x"], { threads: 1, out: "" }), 1);
      expect(cfg.lrHorizon).toBe(c.steps);
      expect(lrAt(cfg, 0)).toBe(c.settings.lr);
      expect(lrAt(cfg, c.steps) / c.settings.lr!).toBeCloseTo(AUTOSIZE.LR_END, 3);
      if (c.steps > 10) expect(lrAt(cfg, c.steps >> 1) / c.settings.lr!).toBeCloseTo((1 + AUTOSIZE.LR_END) / 2, 1);
    }
    const own = chooseForBudget(input({ given: { lrDecay: 0.5, lrDecayEvery: 100 } }));
    expect(own.settings).not.toHaveProperty("lrSchedule");
    expect(own.settings).not.toHaveProperty("lrMin");
  });

  it("normalisation and optimizer: the rung's --norm and AdamW with its weight decay; --norm given applies to every rung, --optimizer or --weight-decay given leaves both", () => {
    const at = (i: number, given: Partial<TrainSettings> = {}) => chooseForBudget(input({ given: { hidden: AUTOSIZE.LADDER[i].hidden, ...given } }));
    AUTOSIZE.LADDER.forEach((r, i) => {
      const c = at(i);
      expect(c.settings.norm, `rung ${i}`).toBe(r.norm);
      if (r.weightDecay > 0) expect(c.settings).toMatchObject({ optimizer: "adamw", weightDecay: r.weightDecay });
      else expect(c.settings).not.toHaveProperty("optimizer");
      const configured = configFromSettings({ ...c.settings, hidden: r.hidden }, ["x"], { threads: 1, out: "" });
      expect(configured.model.norm, `rung ${i}: --norm none is no field`).toBe(r.norm === "none" ? undefined : r.norm);
      expect(c.lines[1].includes(`, ${r.norm} norm,`), c.lines[1]).toBe(r.norm !== "none");
      expect(c.lines[1].includes(`AdamW weight decay ${r.weightDecay}`), c.lines[1]).toBe(r.weightDecay > 0);
    });
    const normed = AUTOSIZE.LADDER.findIndex((r) => r.norm !== "none" && r.weightDecay > 0);
    expect(normed, "a rung with both").toBeGreaterThanOrEqual(0);
    // given: kept, and the rule sets neither of the optimizer's pair
    const own = at(normed, { norm: "none", optimizer: "adam" });
    expect(own.settings).not.toHaveProperty("norm");
    expect(own.settings).not.toHaveProperty("optimizer");
    expect(own.settings).not.toHaveProperty("weightDecay");
    expect(own.lines[1]).not.toMatch(/ norm,|AdamW/);
    expect(at(normed, { weightDecay: 0 }).settings).not.toHaveProperty("optimizer");
    // the speed: a normalised shape is NORM_SPEED slower than the plain one (--norm none given: the FLOP estimate)
    const plain = at(normed, { norm: "none" }), layer = at(normed);
    expect(layer.charsPerSec / plain.charsPerSec).toBeCloseTo(AUTOSIZE.NORM_SPEED, 9);
    expect(at(0, { norm: "layer" }).charsPerSec / at(0, { norm: "none" }).charsPerSec).toBeCloseTo(AUTOSIZE.NORM_SPEED, 9);
  });

  it("a corpus too short for the rung's B×T gets a smaller batch", () => {
    const c = chooseForBudget(input({ corpusChars: 1000 }));
    const trainChars = 1000 - Math.floor(1000 * c.valFrac);
    expect(c.settings.batch! * c.settings.seq! + 1).toBeLessThanOrEqual(trainChars);
  });

  it("explains itself: the budget, the speed, the choice, the rule", () => {
    const c = chooseForBudget(input({ budget: 132 }));
    expect(c.lines[0]).toMatch(/^auto-sizing for --time 2m12s .*test speed, 2 threads$/);
    expect(c.lines[1]).toMatch(new RegExp(`^→ lstm 2×${c.settings.hidden}(, layer norm)?, B${c.settings.batch} T${c.settings.seq}, dropout .*~${c.steps} steps`));
    expect(ruleOf()).toContain(`≥ ${AUTOSIZE.CHARS_PER_PARAM} chars/param`);
  });
});

describe("the calibration's speed estimate", () => {
  it("is the reference's own speed for the reference, FLOP-scaled (× the rung's efficiency) for any other shape", () => {
    const cal = calibrationOf(12_000, V, "given as");
    const ref = AUTOSIZE.REFERENCE;
    const model = (hidden: number) => ({ cell: ref.cell, layers: ref.layers, hidden, embed: 0, activation: "tanh" as const, residual: false, vocabSize: V });
    expect(cal.speedOf({ model: model(ref.hidden), batch: ref.batch, seq: ref.seq, efficiency: 0.5 })).toBe(12_000);
    const perChar = (hidden: number) => trainFlops(model(hidden), ref.batch, ref.seq) / (ref.batch * ref.seq);
    expect(cal.speedOf({ model: model(128), batch: ref.batch, seq: ref.seq, efficiency: 1 })).toBeCloseTo((12_000 * perChar(ref.hidden)) / perChar(128), 6);
    expect(cal.speedOf({ model: model(128), batch: ref.batch, seq: ref.seq, efficiency: 0.5 })).toBeCloseTo((6_000 * perChar(ref.hidden)) / perChar(128), 6);
    expect(cal.gflops).toBeCloseTo((12_000 * perChar(ref.hidden)) / 1e9, 9);
    expect(cal.reference).toMatch(/^lstm 2×256 B50 T50 given as 12.0k chars\/s/);
    // the reference's shape normalised is not the reference: FLOP-scaled, × its efficiency
    expect(cal.speedOf({ model: { ...model(ref.hidden), norm: "layer" }, batch: ref.batch, seq: ref.seq, efficiency: 0.5 })).toBeCloseTo(6_000, 6);
  });
});

describe("README", () => {
  it("states the table's constants and ladder (a retuned constant must be retuned there too)", () => {
    const readme = fs.readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const section = readme.split("### Give it a time budget")[1].split("\n### ")[0].replace(/\s+/g, " ");
    const t = AUTOSIZE;
    for (const r of t.LADDER) {
      expect(section).toContain(`| ${r.cell} ${r.layers}×${r.hidden} | ${r.batch} | ${r.seq} | ${formatDefault(r.lr)} | ${r.dropout} | ${r.norm} | ${r.weightDecay} | ${r.efficiency} | ${r.minSteps.toLocaleString("en-US")} |`);
    }
    for (const k of ["SAFETY", "NORM_SPEED", "CHARS_PER_PARAM", "PARAMS_PER_CHAR", "LR_END", "VAL_FRAC_MAX", "VAL_CHARS", "EVAL_MIN", "EVALS", "EMA_SHARE"] as const) {
      expect(section, k).toContain(`\`${k}\` ${t[k].toLocaleString("en-US")}`);
    }
    const epochs = t.DROPOUT_BY_EPOCHS.map((r, i) => (Number.isFinite(r.epochs) ? `up to ${r.epochs}${i === 0 ? ` epoch${r.epochs === 1 ? "" : "s"}` : ""} ${r.dropout}` : `more ${r.dropout}`));
    expect(section).toContain(`(\`DROPOUT_BY_EPOCHS\`: ${epochs.join(", ")})`);
  });
});
