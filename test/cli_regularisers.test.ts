// The regularisation and optimisation flags of issue 13, through the binary: --dropout-mode locked,
// --dropout-input, --weight-drop, --embed-dropout, --optimizer adamw, --lr-schedule cosine / --lr-min, --ema.
// What the config stores (nothing when they are off: a run given their defaults writes the bytes of a run
// given none), that a run split and resumed writes the bytes of a straight run on 1 and 2 threads, that the
// cosine schedule's rates are the formula's and its horizon stays on resume, that validation and `rnn eval`
// drop nothing, and the one-line refusals.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCheckpointFile } from "../src/io/safetensors.ts";
import { errLines, events, makeCorpus, rnn, SMALL, snapshot, tempDir } from "./helpers/cli.ts";

const tmp = tempDir("regs");
afterAll(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const corpus = makeCorpus(tmp.dir, 1500);
const REGS = ["--embed", "8", "--dropout", "0.2", "--dropout-mode", "locked", "--dropout-input", "0.1", "--weight-drop", "0.3", "--embed-dropout", "0.1",
  "--optimizer", "adamw", "--weight-decay", "0.01", "--ema", "0.9"];
const CADENCE = ["--eval-every", "10", "--checkpoint-every", "10", "--seed", "3"];
const config = (file: string) => JSON.parse(readCheckpointFile(file).metadata.config);
const MODEL_FILES = (n: string) => n.endsWith(".safetensors");
const PY = "/usr/bin/python3";
const hasTorch = fs.existsSync(PY) && spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" }).status === 0;
if (!hasTorch) console.warn(`cli_regularisers: python/train_ddp.py's refusal skipped — ${PY} cannot import torch`);

async function ok(args: string[]) {
  const r = await rnn(args, { timeoutMs: 60_000 });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r;
}

describe.concurrent("stored in the config, absent when off", () => {
  it("a run with every one of them stores each; the default values store nothing and write a plain run's bytes", async () => {
    const all = at("stored-all"), plain = at("stored-plain"), defaults = at("stored-defaults");
    const common = ["train", corpus, ...SMALL, "--threads", "1", "--steps", "12", "-q", ...CADENCE];
    await Promise.all([
      ok([...common, "--out", all, ...REGS, "--lr-schedule", "cosine", "--lr-min", "1e-4", "--warmup", "2"]),
      ok([...common, "--out", plain, "--embed", "8"]),
      ok([...common, "--out", defaults, "--embed", "8", "--dropout-mode", "element", "--dropout-input", "0", "--weight-drop", "0", "--embed-dropout", "0",
        "--lr-schedule", "step", "--ema", "0"]),
    ]);
    expect(config(path.join(all, "latest.safetensors"))).toMatchObject({
      dropout: 0.2, dropoutMode: "locked", dropoutInput: 0.1, weightDrop: 0.3, embedDropout: 0.1, optimizer: "adamw", weightDecay: 0.01,
      lrSchedule: "cosine", lrMin: 1e-4, lrHorizon: 12, ema: 0.9,
    });
    for (const dir of [plain, defaults]) {
      const cfg = config(path.join(dir, "latest.state.safetensors"));
      for (const k of ["dropoutMode", "dropoutInput", "weightDrop", "embedDropout", "lrSchedule", "lrMin", "lrHorizon", "ema"]) expect(cfg, k).not.toHaveProperty(k);
    }
    expect(snapshot(defaults, MODEL_FILES)).toEqual(snapshot(plain, MODEL_FILES));
    expect(fs.readFileSync(path.join(defaults, "metrics.jsonl"), "utf8")).toBe(fs.readFileSync(path.join(plain, "metrics.jsonl"), "utf8"));
  }, 90_000);
});

describe.concurrent("config files", () => {
  it("--like a run takes its regularisers and schedule; its cosine horizon is the new run's budget", async () => {
    const first = at("like-from"), second = at("like-to");
    await ok(["train", corpus, "--out", first, ...SMALL, "--threads", "1", "--steps", "12", ...REGS, "--lr-schedule", "cosine", "-q"]);
    await ok(["train", "--like", first, "--out", second, "--steps", "7", "-q"]);
    expect(config(path.join(second, "latest.state.safetensors"))).toMatchObject({
      dropoutMode: "locked", dropoutInput: 0.1, weightDrop: 0.3, embedDropout: 0.1, optimizer: "adamw", lrSchedule: "cosine", lrMin: 0, lrHorizon: 7, steps: 7,
    });
  }, 90_000);
});

describe.concurrent("resume is exact", () => {
  for (const threads of ["1", "2"]) {
    it(`${threads} thread${threads === "1" ? "" : "s"}: 20 steps + resume to 40 = 40 steps, every file (all the regularisers, adamw)`, async () => {
      const whole = at(`whole-${threads}`), split = at(`split-${threads}`);
      const flags = [...SMALL, ...REGS, ...CADENCE, "--threads", threads, "--keep", "4", "-q"];
      await Promise.all([
        ok(["train", corpus, "--out", whole, "--steps", "40", ...flags]),
        ok(["train", corpus, "--out", split, "--steps", "20", ...flags]).then(() => ok(["train", "--resume", split, "--steps", "40", "-q"])),
      ]);
      const w = snapshot(whole, MODEL_FILES), s = snapshot(split, MODEL_FILES);
      expect(Object.keys(s)).toContain("step-000020.safetensors");
      expect(s).toEqual(w);
      expect(fs.readFileSync(path.join(split, "metrics.jsonl"), "utf8")).toBe(fs.readFileSync(path.join(whole, "metrics.jsonl"), "utf8"));
    }, 90_000);
  }

  it("the same command twice writes the same bytes, on 2 threads", async () => {
    const a = at("twice-a"), b = at("twice-b");
    const args = (out: string) => ["train", corpus, "--out", out, ...SMALL, ...REGS, ...CADENCE, "--threads", "2", "--steps", "15", "-q"];
    await Promise.all([ok(args(a)), ok(args(b))]);
    expect(snapshot(a, MODEL_FILES)).toEqual(snapshot(b, MODEL_FILES));
  }, 90_000);
});

describe.concurrent("--lr-schedule cosine", () => {
  it("the rates of the step events are the formula's; a resume given more steps keeps the horizon (past it: --lr-min)", async () => {
    const dir = at("cosine");
    const r = await ok(["train", corpus, "--out", dir, ...SMALL, "--threads", "1", "--steps", "30", "--lr", "0.01", "--lr-schedule", "cosine",
      "--lr-min", "0.001", "--warmup", "5", "--json"]);
    const lrs = events(r.stdout).filter((e) => e.type === "step").map((e) => e.lr as number);
    expect(lrs).toHaveLength(30);
    const want = (s: number) => (s < 5 ? (0.01 * (s + 1)) / 5 : 0.001 + 0.009 * 0.5 * (1 + Math.cos((Math.PI * (s - 5)) / 25)));
    lrs.forEach((lr, s) => expect(lr).toBeCloseTo(want(s), 12));
    const again = await ok(["train", "--resume", dir, "--steps", "36", "--json"]);
    const more = events(again.stdout).filter((e) => e.type === "step");
    expect(more.map((e) => e.step)).toEqual([31, 32, 33, 34, 35, 36]);
    for (const e of more) expect(e.lr).toBeCloseTo(0.001, 12);
    expect(config(path.join(dir, "latest.state.safetensors"))).toMatchObject({ lrHorizon: 30, steps: 36 });
  }, 90_000);

  it("its horizon with --epochs is the epochs' steps", async () => {
    const r = await ok(["train", corpus, "--out", at("cosine-epochs"), ...SMALL, "--threads", "1", "--epochs", "1", "--lr-schedule", "cosine", "--json"]);
    const ev = events(r.stdout);
    const start = ev[0] as unknown as { totalSteps: number; config: { lrHorizon: number } };
    expect(start.config.lrHorizon).toBe(start.totalSteps);
    expect(start.totalSteps).toBeGreaterThan(30);
  }, 90_000);
});

describe.concurrent("evaluation drops nothing", () => {
  it("the validation loss at the end of a run with every dropout (and --ema: the average's) is rnn eval's of its latest checkpoint", async () => {
    const dir = at("evaldrop");
    const r = await ok(["train", corpus, "--out", dir, ...SMALL, ...REGS, "--dropout", "0.5", "--weight-drop", "0.5", "--threads", "1", "--steps", "10", "--json"]);
    const end = events(r.stdout).at(-1)!;
    const e = await ok(["eval", "-m", dir, "--json"]);
    expect(JSON.parse(e.stdout).loss).toBe(end.valLoss);
    const again = await ok(["eval", "-m", dir, "--json"]);
    expect(again.stdout).toBe(e.stdout);
    const s1 = await ok(["sample", "-m", dir, "--length", "50", "--seed", "1"]), s2 = await ok(["sample", "-m", dir, "--length", "50", "--seed", "1"]);
    expect(s1.stdout).toBe(s2.stdout);
  }, 90_000);
});

describe.concurrent("refused in one line, exit 2", () => {
  const cases: [string, string[], RegExp][] = [
    ["--dropout-input with one-hot input", ["--dropout-input", "0.1"], /^rnn: error: --dropout-input drops embedding vectors: it needs --embed E > 0/],
    ["--embed-dropout with one-hot input", ["--embed-dropout", "0.1"], /^rnn: error: --embed-dropout drops embedding vectors: it needs --embed E > 0/],
    ["--dropout-mode locked without --dropout", ["--dropout-mode", "locked"], /^rnn: error: --dropout-mode locked applies to --dropout's masks/],
    ["--dropout-mode other", ["--dropout-mode", "row"], /^rnn: error: --dropout-mode must be one of element, locked; got 'row'/],
    ["--weight-drop 1", ["--weight-drop", "1"], /^rnn: error: --weight-drop must be less than 1, got 1/],
    ["--lr-min without cosine", ["--lr-min", "0.001"], /^rnn: error: --lr-min is the floor of --lr-schedule cosine/],
    ["cosine with --time alone", ["--lr-schedule", "cosine", "--time", "10s"], /^rnn: error: --lr-schedule cosine needs a step budget to decay over/],
    ["cosine with step decay", ["--lr-schedule", "cosine", "--lr-decay", "0.5", "--lr-decay-every", "3"], /^rnn: error: --lr-decay and --lr-decay-every belong to --lr-schedule step/],
    ["--lr-min above --lr", ["--lr-schedule", "cosine", "--lr", "0.001", "--lr-min", "0.01"], /^rnn: error: --lr-min 0.01 is above --lr 0.001/],
    ["--momentum with adamw", ["--optimizer", "adamw", "--momentum", "0.9"], /^rnn: error: --momentum applies to --optimizer sgd only/],
    ["--ema 1", ["--ema", "1"], /^rnn: error: --ema must be less than 1, got 1/],
    ["--ema with --ortho-opt cayley", ["--ema", "0.99", "--ortho-opt", "cayley"], /^rnn: error: --ema 0.99 and --ortho-opt cayley contradict each other/],
  ];
  for (const [name, flags, re] of cases) {
    it(name, async () => {
      const out = at(`refused-${name.replace(/\W+/g, "-")}`);
      const budget = flags.includes("--time") ? [] : ["--steps", "3"];
      const r = await rnn(["train", corpus, "--out", out, ...SMALL, ...budget, ...flags]);
      expect(r.code).toBe(2);
      const lines = errLines(r.stderr);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(re);
      expect(fs.existsSync(out)).toBe(false);
    }, 30_000);
  }

  it("changing any of them on --resume is refused by name", async () => {
    const dir = at("resume-refused");
    await ok(["train", corpus, "--out", dir, ...SMALL, "--threads", "1", "--steps", "4", "--embed", "8", "--weight-drop", "0.2", "--lr-schedule", "cosine", "-q"]);
    const changes: [string[], RegExp][] = [
      [["--weight-drop", "0.3"], /--weight-drop 0.3 differs from the run being resumed \(0.2\)/],
      [["--dropout-mode", "locked"], /--dropout-mode locked differs from the run being resumed \(element\)/],
      [["--embed-dropout", "0.1"], /--embed-dropout 0.1 differs from the run being resumed \(0\)/],
      [["--lr-schedule", "step"], /--lr-schedule step differs from the run being resumed \(cosine\)/],
      [["--lr-min", "0.001"], /--lr-min 0.001 differs from the run being resumed \(0\)/],
      [["--optimizer", "adamw"], /--optimizer adamw differs from the run being resumed \(adam\)/],
      [["--ema", "0.99"], /--ema 0.99 differs from the run being resumed \(0\)/],
    ];
    for (const [flags, re] of changes) {
      const r = await rnn(["train", "--resume", dir, "--steps", "8", ...flags]);
      expect(r.code, flags.join(" ")).toBe(2);
      expect(errLines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
    // the same values as the run's are fine
    await ok(["train", "--resume", dir, "--steps", "6", "--weight-drop", "0.2", "--lr-schedule", "cosine", "--dropout-mode", "element", "-q"]);
  }, 90_000);
});

describe.skipIf(!hasTorch)("python/train_ddp.py", () => {
  it("refuses to continue a run whose regularisers or schedule it does not reproduce, in one line", async () => {
    const dir = at("ddp-refused");
    await ok(["train", corpus, "--out", dir, ...SMALL, "--threads", "1", "--steps", "3", "--weight-drop", "0.2", "--lr-schedule", "cosine", "--ema", "0.9", "--calibrate", "0.1", "-q"]);
    const r = spawnSync(PY, [path.resolve(__dirname, "../python/train_ddp.py"), dir, "--steps", "1", "--backend", "gloo", "--timeout", "120", "-q"],
      { encoding: "utf8", env: { ...process.env, GLOO_SOCKET_IFNAME: "lo" }, timeout: 120_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`train_ddp: error: ${dir} trains with --weight-drop, --lr-schedule cosine, --ema, --calibrate, which train_ddp.py does not reproduce: continue it with rnn train --resume`);
  }, 150_000);
});
