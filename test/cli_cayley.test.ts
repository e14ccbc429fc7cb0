// `rnn train --ortho-opt cayley` end to end: it trains (rnn, lstm, gru; layers, residual, dropout, 2 threads),
// resumes exactly (N then M steps = N+M, byte for byte), samples, evaluates and diagnoses (every gate block's
// σ within 1e-5 of 1); its checkpoint stores orthoOpt "cayley" while every other run's config has no such
// field (--ortho-opt none included); --init pytorch and --init-from a non-orthogonal model say in one line that
// their blocks were projected; --like and --config carry it; it is refused, in one line with exit code 2, with
// --ortho-reg, with a value it does not know, and when resuming changes it. A model trained with it is an
// ordinary model: python/rnn_torch.py loads it and scores a text as `rnn eval` does, within 1e-4 (and
// python/train_ddp.py, which would train its blocks unconstrained, refuses to continue it, in one line).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCheckpointFile } from "../src/io/safetensors.ts";
import { errLines, events, makeCorpus, rnn, rnnOk, SMALL, snapshot, splitVsWhole, tempDir, workdirs } from "./helpers/cli.ts";

const tmp = tempDir("cayley");
afterAll(tmp.cleanup);
// 800 characters: 760 train (23 chunks per epoch at B 4, T 8), 40 validation. 30 steps cross an epoch.
const corpus = makeCorpus(tmp.dir, 800);
const CAYLEY = ["--ortho-opt", "cayley"];
const configOf = (file: string) => JSON.parse(readCheckpointFile(file).metadata.config);
const workdir = workdirs(tmp.dir);
const ok = (args: string[], cwd?: string) => rnnOk(args, { cwd, timeoutMs: 60_000 });

/** rnn diagnose --json of a run: per layer, the largest |σ − 1| over its gate blocks */
async function blockGaps(run: string): Promise<number[]> {
  const r = await ok(["diagnose", "-m", run, corpus, "--json", "--no-svg", "--seq", "8", "--batch", "2", "--chunks", "0"]);
  return JSON.parse(r.stdout).models[0].layers.map((l: { blockGap: number }) => l.blockGap);
}

describe("--ortho-opt cayley resumes exactly", () => {
  for (const [what, flags] of [
    ["lstm 2 layers, dropout, default kernels on 2 threads", ["--cell", "lstm", "--layers", "2", "--dropout", "0.1", "--threads", "2"]],
    ["gru with an embedding, residual, sgd momentum and weight decay, reference kernels", ["--cell", "gru", "--layers", "2", "--residual", "--embed", "8",
      "--optimizer", "sgd", "--lr", "0.3", "--momentum", "0.9", "--weight-decay", "0.01", "--kernels", "ref"]],
  ] as const) {
    it(`N steps + resume to N+M = N+M steps, byte for byte (${what})`, async () => {
      const common = [...SMALL, ...CAYLEY, "--eval-every", "4", "--checkpoint-every", "4", ...flags];
      const kernels = (flags as readonly string[]).includes("--kernels") ? ["--kernels", "ref"] : [];
      // the resumed half does not name the flag: the run's config carries it
      const { whole: a, split: b, dir } = await splitVsWhole({ corpus, workdir, flags: common, first: 11, total: 28, resumeFlags: kernels, timeoutMs: 60_000 });
      expect(Object.keys(b)).toContain("latest.state.safetensors");
      expect(b).toEqual(a);
      expect(configOf(path.join(dir, "latest.safetensors")).orthoOpt).toBe("cayley");
      for (const gap of await blockGaps(dir)) expect(gap).toBeLessThan(1e-5);
    }, 90_000);
  }
});

describe("--ortho-opt cayley: the checkpoint, sample, eval, diagnose", () => {
  const base = workdir();
  const cay = path.join(base, "cay"), plain = path.join(base, "plain"), none = path.join(base, "none");
  beforeAll(async () => {
    await Promise.all([
      ok(["train", corpus, "--out", cay, "-q", ...SMALL, "--cell", "rnn", ...CAYLEY, "--steps", "40", "--eval-every", "20", "--lr", "0.02"]),
      ok(["train", corpus, "--out", plain, "-q", ...SMALL, "--cell", "rnn", "--steps", "40", "--eval-every", "20", "--lr", "0.02"]),
      ok(["train", corpus, "--out", none, "-q", ...SMALL, "--cell", "rnn", "--ortho-opt", "none", "--steps", "2"]),
    ]);
  }, 60_000);

  it("stores orthoOpt cayley; a run without it, or with --ortho-opt none, has no orthoOpt field", () => {
    expect(configOf(path.join(cay, "latest.safetensors")).orthoOpt).toBe("cayley");
    expect(configOf(path.join(cay, "best.safetensors")).orthoOpt).toBe("cayley");
    expect("orthoOpt" in configOf(path.join(plain, "latest.safetensors"))).toBe(false);
    expect("orthoOpt" in configOf(path.join(none, "latest.safetensors"))).toBe(false);
  });

  it("rnn info, sample and eval read it", async () => {
    const info = await ok(["info", cay]);
    expect(info.stdout).toMatch(/orthoOpt=cayley/);
    const [s1, s2, e] = await Promise.all([
      ok(["sample", "-m", cay, "--length", "40", "--seed", "3"]),
      ok(["sample", "-m", cay, "--length", "40", "--seed", "3", "--kernels", "ref"]),
      ok(["eval", "-m", cay, corpus, "--json"]),
    ]);
    expect(s1.stdout.length).toBeGreaterThan(30);
    expect(s2.stdout).toBe(s1.stdout);
    const ev = JSON.parse(e.stdout);
    expect(ev.chars).toBe(799);
    expect(ev.loss).toBeLessThan(Math.log(26) - 0.5); // it learned
  }, 30_000);

  it("rnn diagnose: σmax = σmin = 1 within 1e-5 after training (without --ortho-opt: far from it)", async () => {
    const [gap] = await blockGaps(cay);
    expect(gap).toBeLessThan(1e-5);
    const [plainGap] = await blockGaps(plain);
    expect(plainGap).toBeGreaterThan(1e-2);
    const r = await ok(["diagnose", "-m", cay, corpus, "--no-svg", "--seq", "8", "--batch", "2", "--chunks", "0"]);
    expect(r.stdout).toMatch(/init orthogonal, ortho-opt cayley/);
    const line = r.stdout.split("\n").find((l) => l.includes("--ortho-opt cayley blocks"))!;
    expect(line).toMatch(/layer 0, --ortho-opt cayley blocks: W_hh 1\.0000\d{3} \/ (1\.0000|0\.9999)\d{3} · \|σ − 1\| ≤ \d\.\d\de-\d/);
  }, 30_000);

  it("--init pytorch: one line says the drawn blocks start at their nearest orthogonal matrix; --json has it in the start event", async () => {
    const w = workdir();
    const r = await ok(["train", corpus, "--out", "p", ...SMALL, "--cell", "lstm", ...CAYLEY, "--init", "pytorch", "--steps", "2"], w);
    const lines = r.stdout.split("\n").filter((l) => l.includes("--ortho-opt cayley:"));
    expect(lines).toEqual([expect.stringMatching(/^ {2}--ortho-opt cayley: 4 of the 4 recurrent blocks drawn by --init pytorch were not orthogonal \(‖WᵀW − I‖_max up to 0\.\d+\); each starts at its nearest orthogonal matrix$/)]);
    const j = await ok(["train", corpus, "--out", "q", ...SMALL, "--cell", "lstm", ...CAYLEY, "--steps", "2", "--json"], w);
    const start = events(j.stdout).find((e) => e.type === "start")!;
    expect(start.config).toMatchObject({ orthoOpt: "cayley" });
    expect("orthoStart" in start).toBe(false); // --init orthogonal: nothing to project
  }, 30_000);

  it("--init-from a model without it: the blocks are projected, in one line; --like and --config carry the flag", async () => {
    const w = workdir();
    const r = await ok(["train", corpus, "--out", "ft", ...CAYLEY, "--init-from", plain, "--batch", "4", "--seq", "8", "--steps", "45", "--eval-every", "45", "--json"], w);
    const start = events(r.stdout).find((e) => e.type === "start")! as { orthoStart?: { blocks: number; projected: number; worst: number } };
    expect(start.orthoStart).toMatchObject({ blocks: 1, projected: 1 });
    expect(start.orthoStart!.worst).toBeGreaterThan(1e-3);
    const h = await ok(["train", corpus, "--out", "ft2", ...CAYLEY, "--init-from", plain, "--batch", "4", "--seq", "8", "--steps", "2"], w);
    expect(h.stdout).toMatch(/--ortho-opt cayley: 1 of the 1 recurrent blocks of the --init-from model were not orthogonal/);
    const [gap] = await blockGaps(path.join(w, "ft"));
    expect(gap).toBeLessThan(1e-5);
    await ok(["train", corpus, "--like", cay, "--out", "like", "--steps", "1", "-q"], w);
    expect(configOf(path.join(w, "like", "latest.safetensors")).orthoOpt).toBe("cayley");
    const info = await ok(["info", cay, "--json"]);
    fs.writeFileSync(path.join(w, "cfg.json"), info.stdout);
    await ok(["train", corpus, "--config", "cfg.json", "--out", "cfg", "--steps", "1", "-q"], w);
    expect(configOf(path.join(w, "cfg", "latest.safetensors")).orthoOpt).toBe("cayley");
  }, 60_000);

  it("is refused, one line each: with --ortho-reg, an unknown value, and a change on --resume", async () => {
    const w = workdir();
    fs.cpSync(plain, path.join(w, "plain"), { recursive: true });
    fs.cpSync(cay, path.join(w, "cay"), { recursive: true });
    const before = { plain: snapshot(path.join(w, "plain")), cay: snapshot(path.join(w, "cay")) };
    const cases: [string[], string][] = [
      [["train", corpus, ...CAYLEY, "--ortho-reg", "0.01", "--out", "x"],
        "rnn: error: --ortho-reg 0.01 and --ortho-opt cayley contradict each other: cayley keeps the recurrent blocks exactly orthogonal, so the penalty would be 0; use one of them"],
      [["train", corpus, "--ortho-opt", "stiefel", "--out", "x"], "rnn: error: --ortho-opt must be one of none, cayley; got 'stiefel'"],
      [["train", corpus, "--resume", "plain", ...CAYLEY, "--steps", "50"],
        "rnn: error: --ortho-opt cayley differs from the run being resumed (none); only --steps, --epochs, --time, --lr, --clip, --eval-every, --checkpoint-every, --keep, --patience, --threads, --sample-every, --sample-length may change on --resume"],
      [["train", corpus, "--resume", "cay", "--ortho-opt", "none", "--steps", "50"],
        "rnn: error: --ortho-opt none differs from the run being resumed (cayley); only --steps, --epochs, --time, --lr, --clip, --eval-every, --checkpoint-every, --keep, --patience, --threads, --sample-every, --sample-length may change on --resume"],
    ];
    const results = await Promise.all(cases.map(([args]) => rnn(args, { cwd: w })));
    results.forEach((r, i) => {
      expect(r.code, cases[i][0].join(" ")).toBe(2);
      expect(errLines(r.stderr)).toEqual([cases[i][1]]);
    });
    expect(fs.existsSync(path.join(w, "x"))).toBe(false);
    expect(snapshot(path.join(w, "plain"))).toEqual(before.plain);
    expect(snapshot(path.join(w, "cay"))).toEqual(before.cay);
    // saying what the run already does is fine
    await ok(["train", corpus, "--resume", "cay", ...CAYLEY, "--steps", "41", "-q"], w);
    await ok(["train", corpus, "--resume", "plain", "--ortho-opt", "none", "--steps", "41", "-q"], w);
  }, 60_000);
});

// ---- PyTorch ----------------------------------------------------------------------------------------------------

const PY = "/usr/bin/python3";
const hasTorch = fs.existsSync(PY) && spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" }).status === 0;
if (!hasTorch) console.warn(`cli_cayley: the PyTorch check is skipped — ${PY} cannot import torch (Debian: apt-get install python3-torch)`);
const RNN_TORCH = path.resolve(__dirname, "..", "python", "rnn_torch.py");

describe.skipIf(!hasTorch)("a model trained with --ortho-opt cayley in PyTorch", () => {
  it("python/rnn_torch.py loads it and scores a text as rnn eval does, within 1e-4", async () => {
    const w = workdir();
    await ok(["train", corpus, "--out", "run", ...SMALL, "--cell", "lstm", "--layers", "2", ...CAYLEY, "--steps", "30", "-q"], w);
    const probe = makeCorpus(w, 300, "probe.txt", 7);
    const ours = JSON.parse((await ok(["eval", "-m", path.join(w, "run"), probe, "--json"])).stdout);
    const py = spawnSync(PY, [RNN_TORCH, "eval", path.join(w, "run", "latest.safetensors"), probe], { encoding: "utf8" });
    expect(py.stderr).toBe("");
    expect(py.status).toBe(0);
    const theirs = JSON.parse(py.stdout);
    expect(theirs.chars).toBe(ours.chars);
    expect(Math.abs(theirs.loss - ours.loss)).toBeLessThan(1e-4);
    // python/train_ddp.py does not keep the blocks orthogonal: it says so rather than train them unconstrained
    const before = snapshot(path.join(w, "run"));
    const ddp = spawnSync(PY, [path.resolve(RNN_TORCH, "..", "train_ddp.py"), path.join(w, "run"), "--steps", "1", "--backend", "gloo"], {
      encoding: "utf8", env: { ...process.env, GLOO_SOCKET_IFNAME: "lo" },
    });
    expect(ddp.status).toBe(1);
    expect(errLines(ddp.stderr)).toEqual([`train_ddp: error: ${path.join(w, "run")} trains with --ortho-opt cayley (recurrent blocks kept orthogonal), which this script does not do; continue it with rnn train --resume`]);
    expect(snapshot(path.join(w, "run"))).toEqual(before);
  }, 60_000);
});
