// `rnn train CORPUS --time D` alone auto-sizes the run (issue 13), end to end (spawned `rnn`): the choice is
// printed (stderr lines, or one "autosize" event first with --json), stored in the checkpoints and the
// training state (`rnn info --json` shows the chosen model, the step horizon and the autoSize record), kept on
// --resume; settings given win; --no-auto-size, --steps or --epochs keep the old meaning. The speed is given
// (the hidden --auto-size-speed) so that the choice is deterministic; one run measures it for real.
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { calibrationOf } from "../src/bench/bench.ts";
import { MODEL_DEFAULTS, TRAIN_DEFAULTS, type TrainSettings } from "../src/config.ts";
import { readCheckpointFile } from "../src/io/safetensors.ts";
import { AUTOSIZE, chooseForBudget, emaFor, ruleOf } from "../src/train/autosize.ts";
import { errLines, events, makeCorpus, rnn, SMALL, tempDir } from "./helpers/cli.ts";

const tmp = tempDir("autosize");
afterAll(tmp.cleanup);
const CHARS = 8000;
const corpus = makeCorpus(tmp.dir, CHARS);
const V = new Set(fs.readFileSync(corpus, "utf8")).size;
const at = (...p: string[]) => path.join(tmp.dir, ...p);
/** the reference's speed the tests give: a horizon of a few steps in 3 s */
const SPEED = 1000;
const base = (out: string) => ["train", corpus, "--time", "3s", "--auto-size-speed", String(SPEED), "--threads", "1", "--out", at(out)];

/** What the rule chooses for this corpus, 3 s and the given speed, with `given` on the command line. */
function expected(given: Partial<TrainSettings> = {}) {
  const cal = calibrationOf(SPEED, V, "given as");
  const choice = chooseForBudget({ budget: 3, spent: 0, corpusChars: CHARS, vocabSize: V, threads: 1, speedOf: cal.speedOf, given: { threads: 1, ...given }, measured: cal.reference });
  // emaShare: where the rule chose --ema (a re-planned horizon re-plans it with that share)
  const emaShare = choice.settings.ema !== undefined ? { emaShare: AUTOSIZE.EMA_SHARE } : {};
  return { choice, record: { budget: 3, charsPerSec: Number(choice.charsPerSec.toPrecision(4)), reference: cal.reference, rule: ruleOf(), ...emaShare } };
}

async function ok(args: string[]) {
  const r = await rnn(args, { cwd: tmp.dir, timeoutMs: 60_000 });
  expect(r.code, `${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r;
}

async function info(run: string) {
  const r = await ok(["info", run, "--json"]);
  return JSON.parse(r.stdout) as { config: Record<string, unknown> & { model: Record<string, unknown> } };
}

/** One line on stderr matching `re`, exit 2, nothing written. */
async function refused(args: string[], re: RegExp) {
  const r = await rnn(args, { cwd: tmp.dir });
  expect(errLines(r.stderr), args.join(" ")).toEqual([expect.stringMatching(re)]);
  expect(r.code, args.join(" ")).toBe(2);
}

describe("rnn train --time alone: auto-sized", () => {
  it("prints the choice, then trains it: the chosen config, the horizon and the autoSize record are in the checkpoints", async () => {
    const { choice, record } = expected();
    const r = await ok(base("auto"));
    expect(errLines(r.stderr)).toEqual(choice.lines);
    expect(choice.lines[0]).toMatch(/^auto-sizing for --time 3s .*given as 1\.00k chars\/s/);
    expect(r.stdout).toContain(`rnn train ${choice.settings.norm === "layer" ? "ln-" : ""}lstm ${choice.settings.layers}×${choice.settings.hidden}`);

    const { config } = await info(at("auto"));
    expect(config.model).toMatchObject({ cell: choice.settings.cell, layers: choice.settings.layers, hidden: choice.settings.hidden, norm: choice.settings.norm });
    expect(config).toMatchObject({
      steps: choice.steps, time: 3, epochs: 0, batch: choice.settings.batch, seq: choice.settings.seq, lr: choice.settings.lr,
      dropout: choice.settings.dropout, lrSchedule: "cosine", lrMin: choice.settings.lrMin, lrHorizon: choice.steps,
      valFrac: choice.valFrac, evalEvery: choice.evalEvery, autoSize: record,
    });
    expect(config.ema).toBe(choice.settings.ema);
    expect(choice.steps).toBeGreaterThan(0);
    // the model checkpoints hold the record too (and, as always, no budget)
    const stored = JSON.parse(readCheckpointFile(at("auto", "latest.safetensors")).metadata.config);
    expect(stored.autoSize).toEqual(record);
    expect(stored).not.toHaveProperty("steps");
    // rnn info shows it in a row of its own
    const human = await ok(["info", at("auto")]);
    expect(human.stdout).toMatch(/auto-sized +for --time 3s at .* chars\/s; lstm 2×256 B50 T50 given as/);
    expect(human.stdout).not.toContain("autoSize=");
  }, 90_000);

  it("--json: one 'autosize' event first, then the usual events; --quiet: nothing at all", async () => {
    const { choice, record } = expected();
    const [json, quiet] = await Promise.all([ok([...base("json"), "--json"]), ok([...base("quiet"), "-q"])]);
    expect(json.stderr).toBe("");
    const ev = events(json.stdout);
    expect(ev[0]).toMatchObject({ type: "autosize", budget: 3, spent: 0, chosen: choice.settings, steps: choice.steps, time: 3, lines: choice.lines, reference: record.reference });
    expect(ev[1]).toMatchObject({ type: "start", totalSteps: choice.steps, config: { autoSize: record } });
    expect(ev.filter((e) => e.type === "autosize")).toHaveLength(1);
    expect(quiet.stdout + quiet.stderr).toBe("");
    expect((await info(at("quiet"))).config.autoSize).toEqual(record);
  }, 90_000);

  it("settings given win: --hidden 64 keeps 64 (and the rest is chosen around it)", async () => {
    const { choice, record } = expected({ hidden: 64, dropout: 0.1 });
    const r = await ok([...base("h64"), "--hidden", "64", "--dropout", "0.1"]);
    expect(errLines(r.stderr)).toEqual(choice.lines);
    expect(choice.lines.join("\n")).toContain("kept from the command line: --hidden, --dropout");
    const { config } = await info(at("h64"));
    expect(config.model.hidden).toBe(64);
    expect(config).toMatchObject({ dropout: 0.1, steps: choice.steps, autoSize: record });
  }, 90_000);

  it("a rung's normalisation and AdamW are the run's: --norm layer and --optimizer adamw with its decay stored; --norm none given keeps them off", async () => {
    const rung = AUTOSIZE.LADDER.find((r) => r.norm !== "none" && r.weightDecay > 0)!;
    const { choice } = expected({ hidden: rung.hidden });
    const r = await ok([...base("normed"), "--hidden", String(rung.hidden)]);
    expect(errLines(r.stderr)).toEqual(choice.lines);
    expect(choice.lines[1]).toContain(`, ${rung.norm} norm, `);
    expect(choice.lines[1]).toContain(`AdamW weight decay ${rung.weightDecay}`);
    const { config } = await info(at("normed"));
    expect(config).toMatchObject({ optimizer: "adamw", weightDecay: rung.weightDecay, model: { hidden: rung.hidden, norm: rung.norm } });

    const plain = expected({ hidden: rung.hidden, norm: "none", optimizer: "adam" }).choice;
    const p = await ok([...base("unnormed"), "--hidden", String(rung.hidden), "--norm", "none", "--optimizer", "adam"]);
    expect(errLines(p.stderr)).toEqual(plain.lines);
    const kept = (await info(at("unnormed"))).config;
    expect(kept.model).not.toHaveProperty("norm");
    expect(kept).toMatchObject({ optimizer: "adam", weightDecay: 0 });
  }, 90_000);

  it("--dropout-mode locked with the rule's dropout: no dropout chosen, so no masks to lock (said), not refused", async () => {
    const { choice } = expected({ dropoutMode: "locked" });
    expect(choice.settings.dropout).toBe(0);
    const r = await ok([...base("lockednone"), "--dropout-mode", "locked"]);
    expect(errLines(r.stderr)).toEqual(choice.lines);
    expect(r.stderr).toContain("--dropout-mode locked: no masks to lock, dropout 0 for");
    const { config } = await info(at("lockednone"));
    expect(config).toMatchObject({ dropout: 0 });
    expect(config).not.toHaveProperty("dropoutMode");
    // with a dropout of one's own the mode is the run's
    await ok([...base("lockedsome"), "--dropout-mode", "locked", "--dropout", "0.2", "-q"]);
    expect((await info(at("lockedsome"))).config).toMatchObject({ dropout: 0.2, dropoutMode: "locked" });
  }, 90_000);

  it("the record survives --resume", async () => {
    const { record, choice } = await (async () => expected())();
    await ok(["train", "--resume", at("auto"), "--steps", String(choice.steps + 2), "-q"]);
    const { config } = await info(at("auto"));
    expect(config).toMatchObject({ steps: choice.steps + 2, time: 0, autoSize: record, model: { hidden: choice.settings.hidden } });
  }, 90_000);

  it("--config from an auto-sized run's rnn info --json: the same settings, a run that is not auto-sized", async () => {
    const r = await ok(["info", at("h64"), "--json"]);
    fs.writeFileSync(at("h64.json"), r.stdout);
    const run = await ok(["train", "--config", at("h64.json"), "--steps", "1", "--out", at("from-config"), "-q"]);
    expect(run.stderr).toBe("");
    const { config } = await info(at("from-config"));
    expect(config.model.hidden).toBe(64);
    expect(config).not.toHaveProperty("autoSize");
  }, 90_000);

  it("measures the speed when none is given: the time it took comes off the budget", async () => {
    const r = await ok(["train", corpus, ...SMALL, "--time", "4s", "--threads", "1", "--out", at("measured"), "--json"]);
    const ev = events(r.stdout);
    expect(ev[0]).toMatchObject({ type: "autosize", budget: 4, reference: expect.stringMatching(/^lstm 2×256 B50 T50 measured at .* chars\/s/) });
    const spent = ev[0].spent as number;
    expect(spent).toBeGreaterThan(0);
    const { config } = await info(at("measured"));
    expect(config.model.hidden).toBe(16);
    expect(config.time).toBeCloseTo(Math.max(0.1, 4 - spent), 1);
    expect(config.autoSize).toMatchObject({ budget: 4, rule: ruleOf() });
  }, 90_000);

  it("a budget past 10 s is planned again from the run's own speed: said on the way, stored, shown by rnn info", async () => {
    // a reference speed far above this machine's: the first plan is far too long, the second fits the time
    const r = await ok(["train", corpus, ...SMALL, "--time", "12s", "--auto-size-speed", "1e6", "--threads", "1", "--out", at("replan")]);
    const said = r.stdout.split("\n").filter((l) => l.includes("--time: "));
    expect(said).toEqual([expect.stringMatching(/^ {2}--time: .* chars\/s over the first .*; horizon \d+ → \d+ steps \(the learning rate's cosine bends to end there; weights averaged over ~\d+\)$/)]);
    const [planned, steps] = said[0].match(/horizon (\d+) → (\d+)/)!.slice(1).map(Number);
    expect(steps).toBeLessThan(planned);
    const { config } = await info(at("replan"));
    expect(config).toMatchObject({ steps, lrHorizon: steps, ema: emaFor(steps, AUTOSIZE.EMA_SHARE), autoSize: { budget: 12, replanned: { was: planned, steps }, emaShare: AUTOSIZE.EMA_SHARE } });
    expect(said[0]).toContain(`weights averaged over ~${Math.max(2, Math.round(AUTOSIZE.EMA_SHARE * steps))})`);
    // (rnn info wraps the row: compared with its whitespace folded)
    // … and of its model file alone, out of the run directory (a model file holds no step budget: the record does)
    fs.copyFileSync(at("replan", "latest.safetensors"), at("replan-model.safetensors"));
    for (const what of [at("replan"), at("replan-model.safetensors")]) {
      expect((await ok(["info", what])).stdout.replace(/\s+/g, " "), what).toMatch(new RegExp(`planned again at step \\d+ .* chars/s: ${planned} → ${steps} steps`));
    }
  }, 90_000);
});

describe("not auto-sized", () => {
  it("--no-auto-size: the defaults, stopping at the time", async () => {
    const r = await ok(["train", corpus, "--time", "1s", "--no-auto-size", "--threads", "1", "--out", at("plain"), "-q"]);
    expect(r.stderr).toBe("");
    const { config } = await info(at("plain"));
    expect(config.model).toMatchObject({ hidden: MODEL_DEFAULTS.hidden, layers: MODEL_DEFAULTS.layers });
    expect(config).toMatchObject({ steps: 0, epochs: 0, time: 1, lr: TRAIN_DEFAULTS.lr, dropout: TRAIN_DEFAULTS.dropout, lrDecay: 1, evalEvery: TRAIN_DEFAULTS.evalEvery });
    expect(config).not.toHaveProperty("autoSize");
  }, 60_000);

  it("--time with --steps (or --epochs): a budget as before", async () => {
    const r = await ok(["train", corpus, ...SMALL, "--time", "30s", "--steps", "2", "--threads", "1", "--out", at("steps"), "-q"]);
    expect(r.stderr).toBe("");
    const { config } = await info(at("steps"));
    expect(config).toMatchObject({ steps: 2, time: 30, model: { hidden: 16 } });
    expect(config).not.toHaveProperty("autoSize");
  }, 60_000);

  it("--no-auto-size (or --auto-size-speed) where nothing is auto-sized is refused in one line", async () => {
    const out = ["--out", at("never")];
    await refused(["train", corpus, ...out, "--no-auto-size"], /^rnn: error: --no-auto-size does nothing here: only a run given --time is auto-sized/);
    await refused(["train", corpus, ...out, "--time", "3s", "--steps", "5", "--no-auto-size"], /^rnn: error: --no-auto-size does nothing here: --steps fixes the budget/);
    await refused(["train", corpus, ...out, "--time", "3s", "--epochs", "1", "--auto-size-speed", "10"], /^rnn: error: --auto-size-speed does nothing here: --epochs fixes the budget/);
    await refused(["train", "--resume", at("steps"), "--time", "3s", "--no-auto-size"], /^rnn: error: --no-auto-size does nothing here: a run given --resume is never auto-sized/);
    await refused(["train", corpus, ...out, "--time", "3s", "--no-auto-size", "--auto-size-speed", "10"], /^rnn: error: --auto-size-speed and --no-auto-size contradict each other/);
    expect(fs.existsSync(at("never"))).toBe(false);
  }, 60_000);
});
