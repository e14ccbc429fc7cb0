// `--cell lstm --no-forget-gate` end to end: it trains, resumes exactly (N then M steps = N+M, byte for byte),
// samples, evaluates and diagnoses; its checkpoint says what it is (cell "lstm", forgetGate false, 3H-row
// tensors) while a plain LSTM's config stays as before (no forgetGate field); the flag is refused, in one line,
// on a GRU or plain RNN, with --forget-bias, and when resuming a run that has a forget gate.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCheckpointFile } from "../src/io/safetensors.ts";
import { errLines, makeCorpus, rnn, rnnOk, SMALL, snapshot, splitVsWhole, tempDir, workdirs } from "./helpers/cli.ts";

const tmp = tempDir("nofg");
afterAll(tmp.cleanup);
// 800 characters: 760 train (23 chunks per epoch at B 4, T 8), 40 validation. 30 steps cross an epoch.
const corpus = makeCorpus(tmp.dir, 800);
const NOFG = ["--cell", "lstm", "--no-forget-gate"];
const meta = (file: string) => readCheckpointFile(file).metadata;
const workdir = workdirs(tmp.dir);
const ok = (args: string[], cwd?: string) => rnnOk(args, { cwd });

describe("--no-forget-gate resumes exactly", () => {
  for (const [what, flags] of [
    ["2 layers, one-hot, default kernels on 2 threads", ["--layers", "2", "--threads", "2"]],
    ["embedding, dropout, reference kernels", ["--embed", "8", "--dropout", "0.1", "--kernels", "ref"]],
  ] as const) {
    it(`N steps + resume to N+M = N+M steps, byte for byte (${what})`, async () => {
      const common = [...SMALL, ...NOFG, "--eval-every", "4", "--checkpoint-every", "4", ...flags];
      const kernels = (flags as readonly string[]).includes("--kernels") ? ["--kernels", "ref"] : [];
      // the resumed half names neither the cell nor the flag: the run's config carries them
      const { whole: a, split: b, dir } = await splitVsWhole({ corpus, workdir, flags: common, first: 11, total: 28, resumeFlags: kernels });
      expect(Object.keys(b)).toContain("latest.state.safetensors");
      expect(b).toEqual(a);
      const state = readCheckpointFile(path.join(dir, "latest.state.safetensors"));
      expect([...state.tensors.keys()].sort()).toEqual(["c", "h", "optimizer"]); // the carried c is saved
    }, 60_000);
  }
});

describe("--no-forget-gate: the checkpoint, sample, eval, diagnose", () => {
  const base = workdir();
  const nofg = path.join(base, "nofg"), plain = path.join(base, "plain");
  beforeAll(async () => {
    await Promise.all([
      ok(["train", corpus, "--out", nofg, "-q", ...SMALL, ...NOFG, "--layers", "2", "--steps", "6", "--eval-every", "3"]),
      ok(["train", corpus, "--out", plain, "-q", ...SMALL, "--cell", "lstm", "--steps", "6", "--eval-every", "3"]),
    ]);
  }, 30_000);

  it("stores cell lstm with forgetGate false, no forget bias, and [3H × ·] tensors; a plain LSTM's config has no forgetGate", () => {
    const f = readCheckpointFile(path.join(nofg, "latest.safetensors"));
    const cfg = JSON.parse(f.metadata.config);
    expect(cfg.model).toMatchObject({ cell: "lstm", forgetGate: false, layers: 2, hidden: 16 });
    expect(cfg.forgetBias).toBeNull();
    expect(f.tensors.get("rnn.weight_hh_l1")!.shape).toEqual([48, 16]);
    expect(f.tensors.get("rnn.bias_ih_l0")!.shape).toEqual([48]);
    const p = JSON.parse(meta(path.join(plain, "latest.safetensors")).config);
    expect("forgetGate" in p.model).toBe(false);
    expect(p.forgetBias).toBe(1);
  });

  it("rnn info, sample and eval read it", async () => {
    const info = await ok(["info", nofg]);
    expect(info.stdout).toMatch(/lstm-nofg 2×16/);
    const [s1, s2, e] = await Promise.all([
      ok(["sample", "-m", nofg, "--length", "40", "--seed", "3"]),
      ok(["sample", "-m", nofg, "--length", "40", "--seed", "3", "--kernels", "ref"]),
      ok(["eval", "-m", nofg, corpus, "--json"]),
    ]);
    expect(s1.stdout.length).toBeGreaterThan(30);
    expect(s2.stdout).toBe(s1.stdout);
    const ev = JSON.parse(e.stdout);
    expect(ev.chars).toBe(799);
    expect(Number.isFinite(ev.loss)).toBe(true);
  }, 30_000);

  it("rnn diagnose names its gates i g o and reports ‖c_t‖ over the carried-state run", async () => {
    const r = await ok(["diagnose", "-m", nofg, corpus, "--json", "--no-svg", "--seq", "8", "--batch", "2", "--chunks", "5"]);
    const m = JSON.parse(r.stdout).models[0];
    expect(m.layers[0].spectral.map((s: { name: string }) => s.name)).toEqual(["W_hh", "i", "g", "o"]);
    expect(m.layers[1].saturation.map((s: { name: string }) => s.name)).toEqual(["i", "g", "o", "tanh c"]);
    expect(m.states.steps).toBe(40);
    expect(m.states.cNorm.map((c: number[]) => c.length)).toEqual([41, 41]);
    expect(m.label).toMatch(/lstm-nofg 2×16/);
  }, 30_000);

  it("is refused, one line each: on a GRU or plain RNN, with --forget-bias, and when resuming a run with a forget gate", async () => {
    const w = workdir();
    fs.cpSync(plain, path.join(w, "plain"), { recursive: true });
    const before = snapshot(path.join(w, "plain"));
    const cases: [string[], string][] = [
      [["train", corpus, "--cell", "gru", "--no-forget-gate", "--out", "x"], "rnn: error: --no-forget-gate applies to --cell lstm only"],
      [["train", corpus, "--cell", "rnn", "--no-forget-gate", "--out", "x"], "rnn: error: --no-forget-gate applies to --cell lstm only"],
      [["train", corpus, ...NOFG, "--forget-bias", "1", "--out", "x"], "rnn: error: --forget-bias and --no-forget-gate contradict each other: without a forget gate there is no forget bias"],
      [["train", corpus, "--resume", "plain", "--no-forget-gate", "--steps", "9"], "rnn: error: --no-forget-gate contradicts the run being resumed (lstm 1×16, one-hot, V=26); drop the flag, or start a new run with --out"],
    ];
    const results = await Promise.all(cases.map(([args]) => rnn(args, { cwd: w })));
    results.forEach((r, i) => {
      expect(r.code, cases[i][0].join(" ")).toBe(2);
      expect(errLines(r.stderr)).toEqual([cases[i][1]]);
    });
    expect(fs.existsSync(path.join(w, "x"))).toBe(false);
    expect(snapshot(path.join(w, "plain"))).toEqual(before);
    // resuming the run without forget gate, with or without the flag, is fine
    fs.cpSync(nofg, path.join(w, "nofg"), { recursive: true });
    await ok(["train", corpus, "--resume", "nofg", "--no-forget-gate", "--steps", "8", "-q"], w);
    expect(JSON.parse(meta(path.join(w, "nofg", "latest.safetensors")).config).model.forgetGate).toBe(false);
  }, 30_000);
});
