// `--norm layer` and `--norm batch` end to end: they train (with every other flag that combines), resume
// exactly (N then M steps = N+M, byte for byte, for every file — batch norm's running statistics included,
// on 2 and 3 threads too), sample, evaluate, predict and diagnose; the checkpoint says what it is (norm and the
// gains' tensors, and batch norm's running statistics) while a plain run's config stays as it was (no norm
// field); --norm batch at --batch 1, changing --norm on --resume, diagnose --batch 1 of a batch-norm model and
// rnn import of a normalised one are refused in one line.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, loadModel } from "../src/api.ts";
import { readCheckpointFile } from "../src/io/safetensors.ts";
import { errLines, makeCorpus, rnn, rnnOk, SMALL, snapshot, splitVsWhole, tempDir, workdirs } from "./helpers/cli.ts";

const tmp = tempDir("norm");
afterAll(tmp.cleanup);
// 800 characters: 760 train (23 chunks per epoch at B 4, T 8), 40 validation. 28 steps cross an epoch.
const corpus = makeCorpus(tmp.dir, 800);
const meta = (file: string) => readCheckpointFile(file).metadata;
const workdir = workdirs(tmp.dir);
const ok = (args: string[], cwd?: string) => rnnOk(args, { cwd });

/** N steps, then --resume to N+M, equals N+M steps straight: every .safetensors file byte for byte */
async function resumesExactly(flags: readonly string[], resumeFlags: readonly string[] = []) {
  // the resumed half names neither the cell nor --norm: the run's config carries them
  const common = [...SMALL, "--eval-every", "4", "--checkpoint-every", "4", "--keep", "2", ...flags];
  const { whole, split, dir } = await splitVsWhole({ corpus, workdir, flags: common, first: 11, total: 28, resumeFlags });
  expect(Object.keys(split)).toEqual(expect.arrayContaining(["latest.state.safetensors", "best.safetensors", "step-000028.safetensors"]));
  expect(split).toEqual(whole);
  return dir;
}

describe("--norm layer resumes exactly", () => {
  for (const [what, flags] of [
    ["lstm, 2 layers, residual, one-hot, default kernels on 2 threads", ["--norm", "layer", "--layers", "2", "--residual", "--threads", "2"]],
    ["gru, embedding, dropout, ortho-reg, rmsprop, reference kernels", ["--norm", "layer", "--cell", "gru", "--embed", "8", "--dropout", "0.1", "--ortho-reg", "0.01", "--optimizer", "rmsprop", "--kernels", "ref"]],
    ["rnn relu, lstm without forget gate are their own entries too", ["--norm", "layer", "--cell", "rnn", "--activation", "relu", "--clip-value", "1", "--weight-decay", "1e-4"]],
    ["lstm without forget gate, sgd", ["--norm", "layer", "--no-forget-gate", "--optimizer", "sgd", "--lr", "0.1"]],
  ] as const) {
    it(`N steps + resume to N+M = N+M steps, byte for byte (${what})`, async () => {
      const kernels = (flags as readonly string[]).includes("--kernels") ? ["--kernels", "ref"] : [];
      const run = await resumesExactly(flags, kernels);
      expect(JSON.parse(meta(path.join(run, "latest.safetensors")).config).model.norm).toBe("layer");
    }, 90_000);
  }
});

describe("--norm batch resumes exactly, running statistics included", () => {
  for (const [what, flags] of [
    ["lstm, 2 layers, residual, one-hot, 2 threads (a shard of 2 streams each)", ["--norm", "batch", "--layers", "2", "--residual", "--threads", "2"]],
    ["gru, embedding, dropout, adagrad, reference kernels", ["--norm", "batch", "--cell", "gru", "--embed", "8", "--dropout", "0.1", "--optimizer", "adagrad", "--kernels", "ref"]],
    ["rnn relu, --threads 3 for 4 streams (2 shards of 2)", ["--norm", "batch", "--cell", "rnn", "--activation", "relu", "--threads", "3", "--ortho-reg", "0.01"]],
    ["lstm without forget gate, rmsprop, clip-value", ["--norm", "batch", "--no-forget-gate", "--optimizer", "rmsprop", "--clip-value", "1"]],
  ] as const) {
    it(`N steps + resume to N+M = N+M steps, byte for byte (${what})`, async () => {
      const kernels = (flags as readonly string[]).includes("--kernels") ? ["--kernels", "ref"] : [];
      const run = await resumesExactly(flags, kernels);
      const f = readCheckpointFile(path.join(run, "latest.safetensors"));
      expect(JSON.parse(f.metadata.config).model.norm).toBe("batch");
      // the running statistics have moved from their start (mean 0, variance 1)
      const mean = f.tensors.get("rnn.norm_hh_l0.running_mean")!.data, variance = f.tensors.get("rnn.norm_hh_l0.running_var")!.data;
      expect(Array.from(mean).some((v) => v !== 0)).toBe(true);
      expect(Array.from(variance).some((v) => v !== 1)).toBe(true);
      expect(Array.from(variance).every((v) => v >= 0)).toBe(true);
    }, 90_000);
  }
});

describe("--norm layer: the checkpoint, sample, eval, predict, diagnose", () => {
  const base = workdir();
  const ln = path.join(base, "ln"), plain = path.join(base, "plain");
  beforeAll(async () => {
    await Promise.all([
      ok(["train", corpus, "--out", ln, "-q", ...SMALL, "--norm", "layer", "--layers", "2", "--steps", "6", "--eval-every", "3"]),
      ok(["train", corpus, "--out", plain, "-q", ...SMALL, "--steps", "6", "--eval-every", "3"]),
    ]);
  }, 30_000);

  it("stores norm layer in the model config and the gains as tensors; a plain run's config has no norm field", () => {
    const f = readCheckpointFile(path.join(ln, "latest.safetensors"));
    const cfg = JSON.parse(f.metadata.config);
    expect(cfg.model).toMatchObject({ cell: "lstm", norm: "layer", layers: 2, hidden: 16 });
    expect(Object.keys(cfg.model)).toEqual(["cell", "layers", "hidden", "embed", "activation", "residual", "vocabSize", "norm"]);
    for (const k of [0, 1]) {
      expect(f.tensors.get(`rnn.norm_ih_l${k}.weight`)!.shape).toEqual([64]);
      expect(f.tensors.get(`rnn.norm_hh_l${k}.weight`)!.shape).toEqual([64]);
      expect(f.tensors.get(`rnn.norm_c_l${k}.weight`)!.shape).toEqual([16]);
      expect(f.tensors.get(`rnn.norm_c_l${k}.bias`)!.shape).toEqual([16]);
    }
    expect([...f.tensors.keys()].some((n) => n.includes("running"))).toBe(false); // layer norm keeps no statistics
    expect("norm" in JSON.parse(meta(path.join(plain, "latest.safetensors")).config).model).toBe(false);
  });

  it("rnn info, sample (both kernels alike), eval, predict and score read it", async () => {
    const info = await ok(["info", ln]);
    const text = fs.readFileSync(corpus, "utf8");
    expect(info.stdout).toMatch(/ln-lstm 2×16/);
    const [s1, s2, e, p, sc] = await Promise.all([
      ok(["sample", "-m", ln, "--length", "40", "--seed", "3"]),
      ok(["sample", "-m", ln, "--length", "40", "--seed", "3", "--kernels", "ref"]),
      ok(["eval", "-m", ln, corpus, "--json"]),
      ok(["predict", "-m", ln, "--json", text.slice(0, 5)]),
      ok(["score", "-m", ln, "--text", text.slice(5, 30), "--json"]),
    ]);
    expect(s1.stdout.length).toBeGreaterThan(30);
    expect(s2.stdout).toBe(s1.stdout);
    const ev = JSON.parse(e.stdout);
    expect(ev.chars).toBe(799);
    expect(Number.isFinite(ev.loss)).toBe(true);
    expect(p.stdout.length).toBeGreaterThan(0);
    expect(sc.stdout.length).toBeGreaterThan(0);
  }, 30_000);

  it("rnn diagnose runs on it (saturation of tanh(γ_c ⊙ N(c) + β_c), the value h is made of)", async () => {
    const r = await ok(["diagnose", "-m", ln, corpus, "--json", "--no-svg", "--seq", "8", "--batch", "2", "--chunks", "3"]);
    const m = JSON.parse(r.stdout).models[0];
    expect(m.layers[1].saturation.map((s: { name: string }) => s.name)).toEqual(["i", "f", "g", "o", "tanh c"]);
    expect(m.label).toMatch(/ln-lstm 2×16/);
  }, 30_000);

  it("is refused on --resume when it would change, by name; and by rnn import", async () => {
    const w = workdir();
    fs.cpSync(plain, path.join(w, "plain"), { recursive: true });
    fs.cpSync(ln, path.join(w, "ln"), { recursive: true });
    const before = [snapshot(path.join(w, "plain")), snapshot(path.join(w, "ln"))];
    const cases: [string[], string, number][] = [
      [["train", corpus, "--resume", "plain", "--norm", "layer", "--steps", "9"], "rnn: error: --norm layer contradicts the run being resumed (lstm 1×16, one-hot, V=26); drop the flag, or start a new run with --out", 2],
      [["train", corpus, "--resume", "ln", "--norm", "none", "--steps", "9"], "rnn: error: --norm none contradicts the run being resumed (ln-lstm 2×16, one-hot, V=26); drop the flag, or start a new run with --out", 2],
      [["train", corpus, "--norm", "group", "--out", "x"], "rnn: error: --norm must be one of none, layer, batch; got 'group'", 2],
    ];
    cases.push(
      [["train", corpus, "--resume", "ln", "--norm", "batch", "--steps", "9"], "rnn: error: --norm batch contradicts the run being resumed (ln-lstm 2×16, one-hot, V=26); drop the flag, or start a new run with --out", 2],
      [["train", corpus, "--norm", "batch", "--batch", "1", "--out", "x"], "rnn: error: --norm batch needs --batch 2 or more: it normalises each unit over the streams of a step, and one stream has no variance; --norm layer works at any batch", 2],
    );
    const results = await Promise.all(cases.map(([args]) => rnn(args, { cwd: w })));
    results.forEach((r, i) => {
      expect(r.code, cases[i][0].join(" ")).toBe(cases[i][2]);
      expect(errLines(r.stderr)).toEqual([cases[i][1]]);
    });
    const imp = await rnn(["import", path.join(w, "ln", "latest.safetensors"), "--out", "imported"], { cwd: w });
    expect(imp.code).toBe(1);
    expect(errLines(imp.stderr)[0]).toMatch(/holds a model with normalised layers \(--norm: its config says norm "layer"\); rnn import takes models without normalisation/);
    expect(fs.existsSync(path.join(w, "x"))).toBe(false);
    expect([snapshot(path.join(w, "plain")), snapshot(path.join(w, "ln"))]).toEqual(before);
    // resuming with the run's own --norm is fine
    await ok(["train", corpus, "--resume", "ln", "--norm", "layer", "--steps", "8", "-q"], w);
  }, 30_000);
});

describe("--norm batch with data-parallel threads: statistics per shard of at least 2 streams", () => {
  it("--threads 4 at --batch 4 trains as --threads 2 (2 shards of 2 streams), and differs from one thread (one shard of 4)", async () => {
    const w = workdir();
    const run = (threads: string) => ok(["train", corpus, "--out", `t${threads}`, "-q", ...SMALL, "--norm", "batch", "--steps", "5", "--threads", threads], w);
    await Promise.all([run("1"), run("2"), run("4")]);
    const tensors = (t: string) => {
      const f = readCheckpointFile(path.join(w, `t${t}`, "latest.safetensors"));
      return Object.fromEntries([...f.tensors].map(([n, v]) => [n, Array.from(v.data)]));
    };
    const [one, two, four] = [tensors("1"), tensors("2"), tensors("4")];
    expect(four).toEqual(two);
    expect(two["rnn.norm_hh_l0.running_var"]).not.toEqual(one["rnn.norm_hh_l0.running_var"]);
  }, 60_000);
});

describe("--norm batch: the checkpoint, sample, eval, diagnose", () => {
  const bn = path.join(workdir(), "bn");
  beforeAll(async () => {
    await ok(["train", corpus, "--out", bn, "-q", ...SMALL, "--norm", "batch", "--cell", "gru", "--layers", "2", "--steps", "6", "--eval-every", "3", "--keep", "1"]);
  }, 30_000);

  it("stores the gains with the parameters and the running statistics after them, in every model checkpoint", () => {
    for (const file of ["latest.safetensors", "best.safetensors", "step-000006.safetensors"]) {
      const f = readCheckpointFile(path.join(bn, file));
      expect(JSON.parse(f.metadata.config).model).toMatchObject({ cell: "gru", norm: "batch" });
      const names = [...f.tensors.keys()];
      const stats = ["ih", "hh"].flatMap((q) => [0, 1].flatMap((k) => [`rnn.norm_${q}_l${k}.running_mean`, `rnn.norm_${q}_l${k}.running_var`]));
      for (const n of stats) expect(f.tensors.get(n)!.shape, n).toEqual([48]);
      expect(names.slice(-stats.length).sort()).toEqual(stats.sort()); // after the parameters
      expect(names.indexOf("decoder.bias")).toBe(names.length - stats.length - 1);
      expect(names.filter((n) => n.includes("norm_c"))).toEqual([]); // a GRU carries no c
    }
    // the training state holds no statistics of its own: they are the model's
    const state = readCheckpointFile(path.join(bn, "latest.state.safetensors"));
    expect([...state.tensors.keys()].sort()).toEqual(["h", "optimizer"]);
  });

  it("samples and evaluates one stream with the running statistics (both kernels alike); diagnose needs 2 streams", async () => {
    const [s1, s2, e, d, d1] = await Promise.all([
      ok(["sample", "-m", bn, "--length", "40", "--seed", "3"]),
      ok(["sample", "-m", bn, "--length", "40", "--seed", "3", "--kernels", "ref"]),
      ok(["eval", "-m", bn, corpus, "--json"]),
      ok(["diagnose", "-m", bn, corpus, "--json", "--no-svg", "--seq", "8", "--batch", "2", "--chunks", "2"]),
      rnn(["diagnose", "-m", bn, corpus, "--no-svg", "--batch", "1"]),
    ]);
    expect(s2.stdout).toBe(s1.stdout);
    expect(JSON.parse(e.stdout).chars).toBe(799);
    expect(JSON.parse(d.stdout).models[0].label).toMatch(/bn-gru 2×16/);
    expect(d1.code).toBe(2);
    expect(errLines(d1.stderr)).toEqual([`rnn: error: --batch 1: ${bn} normalises over the streams of a step (--norm batch); its gradients need --batch 2 or more`]);
  }, 30_000);

  it("the library (serve, export, the browser) loads it from its bytes, running statistics included: generate = rnn sample", async () => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(bn, "latest.safetensors")));
    const [fromBytes, fromPath] = await Promise.all([loadModel(bytes), loadModel(bn)]);
    const cli = await ok(["sample", "-m", bn, "--length", "60", "--seed", "4"]);
    expect(generate(fromBytes, { length: 60, seed: 4 }) + "\n").toBe(cli.stdout);
    expect(generate(fromPath, { length: 60, seed: 4 }) + "\n").toBe(cli.stdout);
  }, 30_000);
});
