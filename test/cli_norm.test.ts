// `--norm layer` end to end: it trains (with every other flag that combines), resumes exactly (N then M
// steps = N+M, byte for byte, for every file), samples, evaluates, predicts and diagnoses; its checkpoint says
// what it is (norm "layer" and the gains' tensors) while a plain run's config stays as it was (no norm field);
// changing it on --resume is refused by name, as is rnn import of such a model.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCheckpointFile } from "../src/io/safetensors.ts";
import { errLines, makeCorpus, rnn, SMALL, snapshot, tempDir } from "./helpers/cli.ts";

const tmp = tempDir("norm");
afterAll(tmp.cleanup);
// 800 characters: 760 train (23 chunks per epoch at B 4, T 8), 40 validation. 28 steps cross an epoch.
const corpus = makeCorpus(tmp.dir, 800);
const meta = (file: string) => readCheckpointFile(file).metadata;
const RUN_FILE = /\.safetensors$/;
let runs = 0;
const workdir = () => {
  const d = path.join(tmp.dir, `w${runs++}`);
  fs.mkdirSync(d);
  return d;
};

async function ok(args: string[], cwd?: string) {
  const r = await rnn(args, { cwd });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r;
}

/** N steps, then --resume to N+M, equals N+M steps straight: every .safetensors file byte for byte */
async function resumesExactly(flags: readonly string[], resumeFlags: readonly string[] = []) {
  const whole = workdir(), split = workdir();
  const common = ["--out", "run", "-q", ...SMALL, "--eval-every", "4", "--checkpoint-every", "4", "--keep", "2", ...flags];
  await Promise.all([
    ok(["train", corpus, ...common, "--steps", "28"], whole),
    // the resumed half names neither the cell nor --norm: the run's config carries them
    ok(["train", corpus, ...common, "--steps", "11"], split).then(() => ok(["train", corpus, "--resume", "run", "--steps", "28", "-q", ...resumeFlags], split)),
  ]);
  const a = snapshot(path.join(whole, "run"), (n) => RUN_FILE.test(n)), b = snapshot(path.join(split, "run"), (n) => RUN_FILE.test(n));
  expect(Object.keys(b)).toEqual(expect.arrayContaining(["latest.state.safetensors", "best.safetensors", "step-000028.safetensors"]));
  expect(b).toEqual(a);
  return path.join(split, "run");
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
      [["train", corpus, "--norm", "group", "--out", "x"], "rnn: error: --norm must be one of none, layer; got 'group'", 2],
    ];
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
