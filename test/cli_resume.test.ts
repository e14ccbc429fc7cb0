// `rnn train --resume RUN` continues exactly: N steps, then a resume to N+M, writes the same bytes as N+M
// steps in one go. --steps counts from the start of the run; flags that contradict the run are refused;
// the documented ones may change. latest.safetensors stays a clean model (optimizer state lives beside it).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flagOf, RESUMABLE } from "../src/config.ts";
import { readCheckpointFile } from "../src/io/safetensors.ts";
import { paramSpec } from "../src/model/params.ts";
import { errLines, events, makeCorpus, rnn, rnnOk, SMALL, snapshot, splitVsWhole, tempDir, workdirs } from "./helpers/cli.ts";

const tmp = tempDir("resume");
afterAll(tmp.cleanup);
// 800 characters: 760 train (23 chunks per epoch at B 4, T 8), 40 validation. 30 steps cross an epoch.
const corpus = makeCorpus(tmp.dir, 800);
const REF = ["--kernels", "ref"];
/** A fresh working directory: every run is `--out run` inside one (test/cli_same_bytes.test.ts runs in different directories). */
const workdir = workdirs(tmp.dir);
const meta = (file: string) => readCheckpointFile(file).metadata;
const config = (file: string) => JSON.parse(meta(file).config);
const ok = (args: string[], cwd: string) => rnnOk(args, { cwd });

describe("resume is exact", () => {
  it("N steps + resume to N+M = N+M steps, byte for byte (lstm, embedding, dropout, lr decay, warmup, epoch boundary)", async () => {
    const flags = [...SMALL, ...REF, "--embed", "8", "--dropout", "0.1", "--lr-decay", "0.9", "--lr-decay-every", "5", "--warmup", "3",
      "--eval-every", "4", "--checkpoint-every", "3", "--keep", "2"];
    // 11 is on neither the eval nor the checkpoint cadence; step 23 starts the second epoch (state reset)
    // --kernels is not part of the run: the resumed half must use the same backend (the default, auto, does)
    const { whole, split, dir } = await splitVsWhole({ corpus, workdir, flags, first: 11, total: 30, resumeFlags: REF });
    expect(Object.keys(split)).toEqual(["best.safetensors", "latest.safetensors", "latest.state.safetensors", "step-000027.safetensors", "step-000030.safetensors"]);
    for (const f of ["latest.safetensors", "latest.state.safetensors", "step-000027.safetensors", "step-000030.safetensors"]) {
      expect(split[f], f).toBe(whole[f]);
    }
    expect(meta(path.join(dir, "latest.safetensors")).step).toBe("30");
    expect(JSON.parse(meta(path.join(dir, "latest.state.safetensors")).counters).epoch).toBe(1);
  }, 30_000);

  it("N + M = N+M with the default kernels on 2 threads (gru, sgd momentum, ortho-reg, value clipping), best included", async () => {
    const flags = [...SMALL, "--threads", "2", "--cell", "gru", "--optimizer", "sgd", "--lr", "0.05", "--ortho-reg", "0.01", "--clip-value", "1",
      "--eval-every", "4", "--checkpoint-every", "4", "--keep", "1", "--dropout", "0.1"];
    // 12 is on the eval cadence, so the first half's final evaluation is one the whole run makes too
    const { whole, split } = await splitVsWhole({ corpus, workdir, flags, first: 12, total: 28 });
    expect(Object.keys(split)).toEqual(["best.safetensors", "latest.safetensors", "latest.state.safetensors", "step-000028.safetensors"]);
    expect(split).toEqual(whole);
  }, 30_000);
});

describe("resume semantics", () => {
  const base = workdir();
  const dir = path.join(base, "run");
  beforeAll(() => ok(["train", corpus, "--out", "run", "-q", ...SMALL, ...REF, "--steps", "10", "--eval-every", "5"], base), 20_000);

  it("--steps counts from the start of the run: a run at step 10 resumed with --steps 20 trains 10 more", async () => {
    const r = await ok(["train", corpus, "--resume", "run", "--steps", "20", "--json"], base);
    const ev = events(r.stdout);
    const start = ev.find((e) => e.type === "start")!;
    expect(start).toMatchObject({ resumed: true, startStep: 10, totalSteps: 20 });
    expect(ev.filter((e) => e.type === "step").map((e) => e.step)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(ev.at(-1)).toMatchObject({ type: "end", step: 20, reason: "steps" });
    // without the corpus argument the run's own corpus is read again
    await ok(["train", "--resume", "run", "--steps", "22", "-q"], base);
    expect(meta(path.join(dir, "latest.safetensors")).step).toBe("22");
  }, 20_000);

  it("latest.safetensors holds exactly the model's tensors; the optimizer and hidden state live in latest.state", async () => {
    const model = readCheckpointFile(path.join(dir, "latest.safetensors"));
    const cfg = JSON.parse(model.metadata.config);
    expect([...model.tensors.keys()].sort()).toEqual(paramSpec(cfg.model).tensors.map((t) => t.name).sort());
    const state = readCheckpointFile(path.join(dir, "latest.state.safetensors"));
    expect([...state.tensors.keys()].sort()).toEqual(["c", "h", "optimizer"]);
    // adam: two moments per parameter; h and c are [L × B × H]
    expect(state.tensors.get("optimizer")!.data.length).toBe(2 * paramSpec(cfg.model).size);
    expect(state.tensors.get("h")!.data.length).toBe(1 * 4 * 16);
  }, 20_000);

  it("refuses flags that contradict the run (exit 2, one line naming the flag), and changes nothing", async () => {
    const before = snapshot(dir);
    const cases: [string[], RegExp][] = [
      [["--hidden", "32"], /--hidden 32 contradicts/],
      [["--cell", "gru"], /--cell gru contradicts/],
      [["--layers", "2"], /--layers 2 contradicts/],
      [["--batch", "8"], /--batch 8 differs/],
      [["--seq", "4"], /--seq 4 differs/],
      [["--optimizer", "sgd"], /--optimizer sgd differs/],
      [["--seed", "7"], /--seed 7 differs/],
      [["--dropout", "0.2"], /--dropout 0.2 differs/],
      [["--val-frac", "0.1"], /--val-frac 0.1 differs/],
      [["--out", "elsewhere"], /--out and --resume name different directories/],
    ];
    const results = await Promise.all(cases.map(([flags]) => rnn(["train", corpus, "--resume", "run", "--steps", "30", ...flags], { cwd: base })));
    results.forEach((r, i) => {
      const lines = errLines(r.stderr);
      expect(lines, cases[i][0].join(" ")).toHaveLength(1);
      expect(lines[0]).toMatch(cases[i][1]);
      expect(r.code).toBe(2);
    });
    expect(snapshot(dir)).toEqual(before);
    expect(fs.existsSync(path.join(base, "elsewhere"))).toBe(false);
  }, 20_000);

  it("accepts the flags that may change on resume and records them", async () => {
    const w = workdir();
    fs.cpSync(dir, path.join(w, "run"), { recursive: true });
    const at = Number(meta(path.join(w, "run", "latest.safetensors")).step);
    await ok(["train", corpus, "--resume", "run", "--steps", String(at + 6), "--lr", "0.01", "--eval-every", "3", "--checkpoint-every", "2",
      "--keep", "1", "--patience", "50", "--threads", "1", "-q"], w);
    const cfg = config(path.join(w, "run", "latest.safetensors"));
    expect(cfg).toMatchObject({ lr: 0.01, evalEvery: 3, checkpointEvery: 2, keep: 1, patience: 50, threads: 1 });
    // the budget belongs to the run, not to the model: it is in the training state (issue 14, defect 6)
    expect(cfg).not.toHaveProperty("steps");
    expect(config(path.join(w, "run", "latest.state.safetensors"))).toMatchObject({ steps: at + 6, lr: 0.01, evalEvery: 3, threads: 1 });
    expect(fs.readdirSync(path.join(w, "run")).filter((f) => f.startsWith("step-"))).toEqual([`step-${String(at + 6).padStart(6, "0")}.safetensors`]);
  }, 20_000);

  it("every flag that may change on --resume is listed in docs/promises.md", () => {
    const doc = fs.readFileSync(new URL("../docs/promises.md", import.meta.url), "utf8");
    for (const f of RESUMABLE) expect(doc, flagOf(f)).toContain(`\`${flagOf(f)}`);
  });

  it("explains what cannot be resumed: no run there, no training state, another corpus", async () => {
    const noState = workdir();
    fs.cpSync(dir, path.join(noState, "run"), { recursive: true });
    fs.rmSync(path.join(noState, "run", "latest.state.safetensors"));
    const other = makeCorpus(tmp.dir, 800, "other.txt", 2);
    fs.appendFileSync(other, "Zebra!"); // two characters the run never saw
    const [missing, plainDir, stateless, otherText] = await Promise.all([
      rnn(["train", corpus, "--resume", "nowhere", "--steps", "30"], { cwd: base }),
      rnn(["train", corpus, "--resume", ".", "--steps", "30"], { cwd: base }),
      rnn(["train", corpus, "--resume", "run", "--steps", "30"], { cwd: noState }),
      rnn(["train", other, "--resume", "run", "--steps", "30"], { cwd: base }),
    ]);
    expect(missing.code).toBe(2);
    expect(errLines(missing.stderr)).toEqual([expect.stringMatching(/--resume 'nowhere' does not exist/)]);
    expect(plainDir.code).toBe(2);
    expect(errLines(plainDir.stderr)).toEqual([expect.stringMatching(/--resume '\.' is not a run directory/)]);
    expect(stateless.code).toBe(1);
    expect(errLines(stateless.stderr)).toEqual([expect.stringMatching(/no training state for step \d+/)]);
    expect(otherText.code).toBe(1);
    expect(errLines(otherText.stderr)).toEqual([expect.stringMatching(/different vocabulary/)]);
    expect(meta(path.join(dir, "latest.safetensors")).step).not.toBe("30");
  }, 20_000);
});
