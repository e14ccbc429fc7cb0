// The road to PyTorch and back (issue 15), measured against Debian's python3-torch:
//   * python/rnn_torch.py loads what rnn trains (every kind: rnn tanh/relu, lstm, gru, one-hot/embedding,
//     residual, dropout-trained) and scores a text as `rnn eval` does, within 1e-4; saving it again gives the
//     same bytes;
//   * what PyTorch saves with rnn_torch.save, `rnn eval` scores as PyTorch does, within 1e-4;
//   * a user's own nn.Embedding + nn.LSTM + nn.Linear state_dict (its own names; safetensors, .pt, and a
//     vocabulary in another order) imports into a run that `rnn eval` scores as PyTorch does, within 1e-4,
//     and that `rnn train --resume` continues; bad files are refused in one line;
//   * python/train_ddp.py: one step with one rank = one step of `rnn train --resume` (weights, optimizer,
//     carried state within 1e-5; step, epoch, chunk, RNG state exactly); 2 gloo ranks continue a 20-step run
//     for 20 steps and `rnn train --resume --steps 60` continues for 20 more, the loss curve within 1e-3 of
//     the same 60 steps in one rnn run (no jump where the run changes hands); 3 ranks (streams split 2/1/1)
//     for 50 steps: within 1e-3 of rnn, step for step. Dropout is on in all of them: the masks come from rnn's
//     RNG as rnn draws them with --threads 1 (one-step test) and --threads 2 (the others).
//   * the LSTM without forget gate (`--cell lstm --no-forget-gate`; config forgetGate false, 3H rows [i g o])
//     all the way: rnn train → PyTorch eval and PyTorch save → rnn eval within 1e-4, rnn import of its file
//     (and of a torch.save'd one through `rnn_torch.py convert --config`; without a config its shapes are a
//     GRU's), one train_ddp.py step = one rnn step (c, which nothing forgets, compared relative to its size),
//     2 gloo ranks for 20 steps then rnn for 20 more within 1e-3 of rnn's 60 steps.
// Needs /usr/bin/python3 with torch (Debian: apt-get install python3-torch); skipped in one line without it.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { importCheckpoint } from "../src/checkpoint/import.ts";
import { decodeState } from "../src/checkpoint/checkpoint.ts";
import { STATE } from "../src/run/dir.ts";
import { readCorpus } from "../src/corpus/corpus.ts";
import { evalCommand } from "../src/cli/eval.ts";
import { RnnError, UsageError } from "../src/errors.ts";
import { readCheckpointFile } from "../src/io/safetensors.ts";
import { makeRng } from "../src/rng.ts";
import { events, makeCorpus, rnn, tempDir } from "./helpers/cli.ts";

const PY = "/usr/bin/python3";
const hasTorch = fs.existsSync(PY) && spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" }).status === 0;
if (!hasTorch) console.warn(`torch_roundtrip: skipped — ${PY} cannot import torch (Debian: apt-get install python3-torch)`);
const ROOT = path.resolve(__dirname, "..");
const TRAIN_DDP = path.join(ROOT, "python/train_ddp.py");
const RNN_TORCH = path.join(ROOT, "python/rnn_torch.py");
const HELPER = path.join(ROOT, "test/reference/roundtrip_torch.py");

/** Runs /usr/bin/python3 asynchronously (other work can overlap); never hangs past timeoutMs. */
function py(args: string[], timeoutMs = 300_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PY, args, { env: { ...process.env, GLOO_SOCKET_IFNAME: "lo" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs); // the launcher passes it on to its ranks
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(p: Promise<{ code: number | null; stdout: string; stderr: string }>, what: string) {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  return r;
}

/** `rnn eval --model M FILE --json` through its command function, in this process. */
async function rnnEval(model: string, file: string): Promise<{ loss: number; chars: number; skipped: number }> {
  let out = "";
  const w = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation(() => true); // the unknown-characters warning
  try {
    await evalCommand(file, { model, json: true });
  } finally {
    w.mockRestore();
    e.mockRestore();
  }
  return JSON.parse(out);
}

const stepLosses = (stdout: string) => events(stdout).filter((e) => e.type === "step").map((e) => [e.step as number, e.loss as number] as const);

describe.skipIf(!hasTorch)("PyTorch round trip (python/rnn_torch.py, rnn import, python/train_ddp.py)", () => {
  // (vitest collects a skipped describe too: nothing is written then)
  const tmp = hasTorch ? tempDir("torch-rt") : { dir: "/nonexistent", cleanup: () => {} };
  afterAll(tmp.cleanup);
  const corpus = hasTorch ? makeCorpus(tmp.dir, 3000) : "";
  const probe = path.join(tmp.dir, "probe.txt");
  if (hasTorch) fs.writeFileSync(probe, fs.readFileSync(makeCorpus(tmp.dir, 1500, "probe-src.txt", 2), "utf8") + " ✈ unknown ☃ characters ");
  const SMALL = ["--hidden", "16", "--batch", "4", "--seq", "8", "--steps", "15", "--eval-every", "15", "--threads", "1", "-q"];
  const kinds: Record<string, string[]> = {
    "rnn-tanh-onehot": ["--cell", "rnn", "--layers", "1"],
    "rnn-relu-embed": ["--cell", "rnn", "--activation", "relu", "--embed", "6", "--layers", "2"],
    "rnn-tanh-residual-dropout": ["--cell", "rnn", "--embed", "6", "--layers", "2", "--residual", "--dropout", "0.2"],
    "lstm-onehot-residual": ["--cell", "lstm", "--layers", "2", "--residual"],
    "lstm-embed-dropout": ["--cell", "lstm", "--embed", "8", "--layers", "2", "--dropout", "0.3"],
    "gru-onehot": ["--cell", "gru", "--layers", "1"],
    "gru-embed-residual-dropout": ["--cell", "gru", "--embed", "6", "--layers", "3", "--residual", "--dropout", "0.1"],
    "lstm-nofg-onehot": ["--cell", "lstm", "--no-forget-gate", "--layers", "1"],
    "lstm-nofg-embed-residual-dropout": ["--cell", "lstm", "--no-forget-gate", "--embed", "6", "--layers", "2", "--residual", "--dropout", "0.2"],
  };
  const runDir = (k: string) => path.join(tmp.dir, `run-${k}`);
  const V = hasTorch ? readCorpus([corpus]).vocab.length : 0;
  const evalDiffs: string[] = [];
  afterAll(() => evalDiffs.length && console.log(`|PyTorch − rnn eval| loss: ${evalDiffs.join(", ")}`));
  const close = (what: string, a: number, b: number) => {
    evalDiffs.push(`${what} ${Math.abs(a - b).toExponential(1)}`);
    expect(Math.abs(a - b)).toBeLessThan(1e-4);
  };
  let torch: {
    rnn_runs: Record<string, { eval: { loss: number; chars: number; skipped: number }; same_bytes: boolean }>;
    py_models: Record<string, { file: string; eval: { loss: number; chars: number; skipped: number } }>;
    user: { eval: { loss: number; chars: number; skipped: number }; files: Record<string, string> };
    nofg: { pt: string; config: string; eval: { loss: number; chars: number; skipped: number } };
    bad: Record<string, string>;
    rng: { first: number[]; at: Record<string, number>; state: number[] };
  };

  beforeAll(async () => {
    const names = Object.keys(kinds);
    for (let i = 0; i < names.length; i += 2) {
      await Promise.all(names.slice(i, i + 2).map(async (k) => {
        const r = await rnn(["train", corpus, "--out", runDir(k), ...SMALL, ...kinds[k]], { timeoutMs: 180_000 });
        if (r.code !== 0) throw new Error(`rnn train ${k}: ${r.stderr}`);
      }));
    }
    const runs = Object.fromEntries(names.map((k) => [k, runDir(k)]));
    const r = await ok(py([HELPER, tmp.dir, corpus, probe, JSON.stringify(runs)]), "roundtrip_torch.py");
    torch = JSON.parse(r.stdout);
  }, 900_000);

  describe("rnn train → PyTorch (rnn_torch.load + evaluate)", () => {
    for (const k of Object.keys(kinds)) {
      it(`${k}: PyTorch's loss equals rnn eval's within 1e-4; saved again, the same bytes`, async () => {
        const ours = await rnnEval(runDir(k), probe);
        const theirs = torch.rnn_runs[k].eval;
        expect(ours.skipped).toBeGreaterThan(0);
        expect([theirs.chars, theirs.skipped]).toEqual([ours.chars, ours.skipped]);
        close(`rnn→torch ${k}`, theirs.loss, ours.loss);
        expect(torch.rnn_runs[k].same_bytes).toBe(true);
      });
    }
    it("rnn_torch.py eval CKPT FILE prints rnn eval's JSON", async () => {
      const k = "gru-embed-residual-dropout";
      const r = await ok(py([RNN_TORCH, "eval", path.join(runDir(k), "latest.safetensors"), probe]), "rnn_torch.py eval");
      const theirs = JSON.parse(r.stdout), ours = await rnnEval(runDir(k), probe);
      expect(Object.keys(theirs)).toEqual(["loss", "bpc", "perplexity", "chars", "skipped"]);
      expect(Math.abs(theirs.loss - ours.loss)).toBeLessThan(1e-4);
      expect(theirs.chars).toBe(ours.chars);
    });
  });

  describe("PyTorch (rnn_torch.save) → rnn eval", () => {
    for (const k of ["rnn-tanh-onehot", "rnn-relu-embed", "lstm-onehot-residual", "lstm-embed-dropout", "gru-embed-residual", "gru-onehot", "lstm-nofg-embed-residual", "lstm-nofg-onehot"]) {
      it(`${k}: rnn eval's loss equals PyTorch's within 1e-4`, async () => {
        const { file, eval: theirs } = torch.py_models[k];
        const ours = await rnnEval(file, probe);
        expect([ours.chars, ours.skipped]).toEqual([theirs.chars, theirs.skipped]);
        close(`torch→rnn ${k}`, theirs.loss, ours.loss);
        expect(Math.abs(theirs.loss - Math.log(V))).toBeGreaterThan(0.1); // ×3 weights: not the uniform model, so the check bites
      });
    }
    it("rnn's RNG drawn by rnn_torch (vectorised over lanes) is rnn's, draw for draw", () => {
      const g = makeRng(7);
      const draws = Array.from({ length: 5000 }, () => g.next() * 4294967296);
      expect(draws.slice(0, 3)).toEqual(torch.rng.first);
      for (const [i, v] of Object.entries(torch.rng.at)) expect(draws[Number(i)]).toBe(v);
      expect(g.getState()).toEqual(torch.rng.state);
    });
  });

  describe("rnn import", () => {
    it("a user's nn.Embedding + nn.LSTM + nn.Linear (its own names, plain safetensors): rnn eval = PyTorch within 1e-4", async () => {
      const out = path.join(tmp.dir, "imported");
      const r = importCheckpoint([torch.user.files.safetensors], { out, vocab: corpus });
      expect(r.description).toMatch(/^lstm 2×12, embedding 7, V=\d+$/);
      expect(r.mapping.map((t) => t.from).slice(0, 3)).toEqual(["embed.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0"]);
      expect(r.permuted).toBe(false);
      // written as a training run writes its files: the model's config holds neither the run's path nor its budget,
      // the state holds the whole config but the path
      const modelCfg = JSON.parse(readCheckpointFile(path.join(out, "latest.safetensors")).metadata.config);
      for (const k of ["out", "steps", "epochs", "time"]) expect(modelCfg).not.toHaveProperty(k);
      const stateCfg = JSON.parse(readCheckpointFile(path.join(out, "latest.state.safetensors")).metadata.config);
      expect(stateCfg).not.toHaveProperty("out");
      expect(stateCfg).toMatchObject({ ...modelCfg, steps: expect.any(Number) });
      const ours = await rnnEval(out, probe);
      expect(ours.chars).toBe(torch.user.eval.chars);
      close("import nn.LSTM names", ours.loss, torch.user.eval.loss);
      // the run resumes: its corpus is the --vocab text, its state a fresh one at step 0
      const t = await rnn(["train", "--resume", out, "--steps", "2", "--eval-every", "2", "--batch", "50", "-q"], { timeoutMs: 120_000 });
      expect(t.stderr).toBe("");
      expect(t.code).toBe(0);
      expect(readCheckpointFile(path.join(out, "latest.safetensors")).metadata.step).toBe("2");
    }, 180_000);

    it("the same model from torch.save (.pt, through python3 rnn_torch.py convert) and with a shuffled .json vocabulary", async () => {
      const a = importCheckpoint([torch.user.files.pt], { out: path.join(tmp.dir, "imported-pt"), vocab: corpus, python: PY });
      const b = importCheckpoint([torch.user.files.shuffled], { out: path.join(tmp.dir, "imported-shuffled"), vocab: torch.user.files.shuffled_vocab });
      expect(b.permuted).toBe(true);
      for (const [what, out] of [["import .pt", a.out], ["import shuffled vocab", b.out]]) {
        close(what, (await rnnEval(out, probe)).loss, torch.user.eval.loss);
      }
      // sorted back into rnn's order, the shuffled import is the plain one (here via .pt), bit for bit
      const t1 = readCheckpointFile(path.join(a.out, "latest.safetensors")).tensors;
      const t2 = readCheckpointFile(path.join(b.out, "latest.safetensors")).tensors;
      for (const [n, t] of t1) expect(Buffer.from(t2.get(n)!.data.buffer).equals(Buffer.from(t.data.buffer)), n).toBe(true);
    }, 180_000);

    it("a file PyTorch saved with rnn_torch.save imports without --vocab (its metadata says enough)", () => {
      const r = importCheckpoint([torch.py_models["gru-embed-residual"].file], { out: path.join(tmp.dir, "imported-meta") });
      expect(r.model).toMatchObject({ cell: "gru", layers: 3, residual: true, embed: 6 });
      expect(r.mapping.every((t) => t.from === t.name)).toBe(true);
    });

    it("an LSTM without forget gate: rnn's file (config forgetGate false) imports as one and resumes; rnn_torch.save's without --vocab; torch.save'd through convert --config (rnn eval = PyTorch within 1e-4); without a config its 3H rows are a gru", async () => {
      const k = "lstm-nofg-embed-residual-dropout", out = path.join(tmp.dir, "imported-nofg");
      const r = importCheckpoint([path.join(runDir(k), "latest.safetensors")], { out });
      expect(r.model).toMatchObject({ cell: "lstm", forgetGate: false, layers: 2, hidden: 16, embed: 6, residual: true });
      expect(r.description).toMatch(/^lstm-nofg 2×16, embedding 6, V=\d+, residual$/);
      expect([r.step, r.cellFromShapes, r.mapping.every((t) => t.from === t.name)]).toEqual([15, false, true]);
      expect((await rnnEval(out, probe)).loss).toBe((await rnnEval(runDir(k), probe)).loss); // the same weights, bit for bit
      const t = await rnn(["train", "--resume", out, "--steps", "17", "-q"], { timeoutMs: 120_000 });
      expect(t.stderr).toBe("");
      expect(t.code).toBe(0);
      // a CharRNN(forget_gate=False) that PyTorch saved with rnn_torch.save: its metadata says enough
      const p = importCheckpoint([torch.py_models["lstm-nofg-onehot"].file], { out: path.join(tmp.dir, "imported-nofg-py") });
      expect(p.model).toMatchObject({ cell: "lstm", forgetGate: false, layers: 1, embed: 0 });
      close("import rnn_torch.save nofg", (await rnnEval(p.out, probe)).loss, torch.py_models["lstm-nofg-onehot"].eval.loss);
      // torch.save'd: rnn_torch.py convert --config stores rnn's config beside the tensors
      const conv = path.join(tmp.dir, "nofg-converted.safetensors");
      await ok(py([RNN_TORCH, "convert", torch.nofg.pt, "--out", conv, "--vocab", corpus, "--config", torch.nofg.config]), "rnn_torch.py convert --config");
      const c = importCheckpoint([conv], { out: path.join(tmp.dir, "imported-nofg-pt") });
      expect(c.model).toMatchObject({ cell: "lstm", forgetGate: false, layers: 2, hidden: 10, embed: 5, residual: true, vocabSize: V });
      expect([c.step, c.config.forgetBias]).toEqual([0, null]);
      close("import nofg .pt via convert --config", (await rnnEval(c.out, probe)).loss, torch.nofg.eval.loss);
      // the same .pt without a config: its shapes are a GRU's (3H rows), which is what it imports as
      const g = importCheckpoint([torch.nofg.pt], { out: path.join(tmp.dir, "imported-nofg-as-gru"), vocab: corpus, python: PY, residual: true });
      expect(g.model.cell).toBe("gru");
      expect(g.model.forgetGate).toBeUndefined();
      expect(g.cellFromShapes).toBe(true);
      // a config that says no forget gate over an LSTM's 4H rows is refused
      const wrong = path.join(tmp.dir, "lstm-said-nofg.safetensors");
      await ok(py([RNN_TORCH, "convert", torch.user.files.pt, "--out", wrong, "--vocab", corpus, "--config", torch.nofg.config]), "convert user.pt --config nofg");
      expect(() => importCheckpoint([wrong], { out: path.join(tmp.dir, "x-nofg") })).toThrow(/has shape \[48×12\], but its config says lstm without forget gate: expected \[36×12\]/);
    }, 240_000);

    it("refuses, in one line: a shape mismatch, an unknown tensor, no vocabulary, a vocabulary of the wrong size, an existing run", () => {
      const taken = path.join(tmp.dir, "taken");
      importCheckpoint([torch.user.files.safetensors], { out: taken, vocab: corpus });
      const cases: [() => unknown, typeof RnnError | typeof UsageError, RegExp][] = [
        [() => importCheckpoint([torch.bad.shape], { out: path.join(tmp.dir, "x1"), vocab: corpus }), RnnError, /tensor lstm\.weight_hh_l1 has shape \[48×11\], expected \[48×12\]/],
        [() => importCheckpoint([torch.bad.unknown], { out: path.join(tmp.dir, "x2"), vocab: corpus }), RnnError, /unknown tensor norm\.running_mean \[12\]/],
        [() => importCheckpoint([torch.user.files.safetensors], { out: path.join(tmp.dir, "x3") }), UsageError, /has no vocabulary in its metadata: give --vocab FILE/],
        [() => importCheckpoint([torch.user.files.safetensors], { out: path.join(tmp.dir, "x4"), vocab: probe }), RnnError, /has \d+ characters but the model's decoder has \d+ rows/],
        [() => importCheckpoint([torch.user.files.safetensors], { out: taken, vocab: corpus }), UsageError, /already holds a run: choose another --out, or replace it with --force/],
        [() => importCheckpoint([torch.user.files.safetensors], { out: path.join(tmp.dir, "x5"), vocab: corpus, residual: true, activation: "relu" }), UsageError, /--activation relu applies to rnn cells/],
      ];
      for (const [f, kind, re] of cases) {
        let err: unknown;
        try {
          f();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(kind);
        expect((err as Error).message).toMatch(re);
        expect((err as Error).message).not.toContain("\n");
      }
    });


    it("rnn import (the registered command, spawned) writes a run that rnn eval scores as PyTorch does", async () => {
      const out = path.join(tmp.dir, "imported-cli");
      const r = await rnn(["import", torch.user.files.safetensors, "--vocab", corpus, "--out", out], { timeoutMs: 120_000 });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^imported .* lstm 2×12, embedding 7/);
      const e = await rnn(["eval", "--model", out, probe, "--json"], { timeoutMs: 120_000 });
      expect(Math.abs(JSON.parse(e.stdout).loss - torch.user.eval.loss)).toBeLessThan(1e-4);
      const bad = await rnn(["import", torch.bad.unknown, "--vocab", corpus, "--out", path.join(tmp.dir, "imported-cli-bad")], { timeoutMs: 120_000 });
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    }, 240_000);
  });

  describe("python/train_ddp.py", () => {
    // 1000 characters: 950 to train on, 29 chunks per epoch at B 4 T 8, so 70 steps cross two epoch starts
    const dcorpus = hasTorch ? makeCorpus(tmp.dir, 1000, "ddp.txt", 3) : "";
    const base1 = path.join(tmp.dir, "ddp-base1"), base2 = path.join(tmp.dir, "ddp-base2"), ref2 = path.join(tmp.dir, "ddp-ref2");
    const F1 = ["--cell", "lstm", "--embed", "8", "--hidden", "16", "--layers", "2", "--residual", "--dropout", "0.2", "--batch", "4", "--seq", "8", "--eval-every", "10", "--threads", "1"];
    const F2 = ["--cell", "gru", "--embed", "8", "--hidden", "16", "--layers", "2", "--dropout", "0.2", "--batch", "4", "--seq", "8", "--eval-every", "10", "--checkpoint-every", "1000", "--threads", "2"];
    // the LSTM without forget gate: c = c_0 + Σ i⊙g grows with every character of a stream (carried across chunks)
    const F3 = ["--cell", "lstm", "--no-forget-gate", "--embed", "8", "--hidden", "16", "--layers", "2", "--dropout", "0.2", "--batch", "4", "--seq", "8", "--eval-every", "10", "--checkpoint-every", "1000", "--threads", "2"];
    const base3 = path.join(tmp.dir, "ddp-base3"), ref3 = path.join(tmp.dir, "ddp-ref3");
    let ref: Map<number, number>, refNofg: Map<number, number>;
    const copy = (from: string, to: string) => fs.cpSync(from, to, { recursive: true });
    const measured: string[] = [];
    afterAll(() => measured.length && console.log(`train_ddp measured: ${measured.join("; ")}`));

    beforeAll(async () => {
      const [a, b, c, d, e] = await Promise.all([
        rnn(["train", dcorpus, "--out", base1, ...F1, "--steps", "20", "-q"], { timeoutMs: 180_000 }),
        rnn(["train", dcorpus, "--out", base2, ...F2, "--steps", "20", "-q"], { timeoutMs: 180_000 }),
        rnn(["train", dcorpus, "--out", ref2, ...F2, "--steps", "70", "--json"], { timeoutMs: 180_000 }),
        rnn(["train", dcorpus, "--out", base3, ...F3, "--steps", "20", "-q"], { timeoutMs: 180_000 }),
        rnn(["train", dcorpus, "--out", ref3, ...F3, "--steps", "60", "--json"], { timeoutMs: 180_000 }),
      ]);
      for (const r of [a, b, c, d, e]) if (r.code !== 0) throw new Error(r.stderr);
      ref = new Map(stepLosses(c.stdout));
      refNofg = new Map(stepLosses(e.stdout));
      expect([ref.size, refNofg.size]).toEqual([70, 60]);
    }, 300_000);

    const maxDiff = (x: ArrayLike<number>, y: ArrayLike<number>) => {
      expect(y.length).toBe(x.length);
      let m = 0;
      for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
      return m;
    };
    const maxAbs = (x: ArrayLike<number>) => maxDiff(x, new Float32Array(x.length));

    /** One more step of the run `base` by `rnn train --resume` and by train_ddp.py with one rank: what differs. */
    async function oneStep(base: string, name: string) {
      const viaRnn = path.join(tmp.dir, `${name}-rnn`), viaDdp = path.join(tmp.dir, `${name}-ddp`);
      copy(base, viaRnn);
      copy(base, viaDdp);
      const [r1] = await Promise.all([
        rnn(["train", "--resume", viaRnn, "--steps", "21", "-q"], { timeoutMs: 120_000 }),
        ok(py([TRAIN_DDP, viaDdp, "--steps", "1", "--backend", "gloo", "--timeout", "240", "-q"]), `train_ddp one step (${name})`),
      ]);
      expect(r1.code, r1.stderr).toBe(0);
      const A = readCheckpointFile(path.join(viaRnn, "latest.safetensors")), B = readCheckpointFile(path.join(viaDdp, "latest.safetensors"));
      expect(B.metadata.step).toBe("21");
      expect(JSON.parse(B.metadata.config).model).toEqual(JSON.parse(A.metadata.config).model);
      expect([...B.tensors.keys()]).toEqual([...A.tensors.keys()]);
      let w = 0, moved = 0;
      const before = readCheckpointFile(path.join(base, "latest.safetensors")).tensors;
      for (const [n, t] of A.tensors) {
        w = Math.max(w, maxDiff(t.data, B.tensors.get(n)!.data));
        moved = Math.max(moved, maxDiff(t.data, before.get(n)!.data));
      }
      const sA = decodeState(fs.readFileSync(path.join(viaRnn, STATE)), "rnn"), sB = decodeState(fs.readFileSync(path.join(viaDdp, STATE)), "ddp");
      for (const k of ["step", "epoch", "chunk", "rng", "optStep", "evalsSinceBest"] as const) expect(sB[k], k).toEqual(sA[k]);
      return { w, moved, opt: maxDiff(sA.optimizer, sB.optimizer), h: maxDiff(sA.h, sB.h), c: maxDiff(sA.c!, sB.c!), cMax: maxAbs(sA.c!) };
    }

    it("one step with one rank on CPU = one step of rnn train --resume (weights, optimizer, carried state within 1e-5; counters and RNG exactly)", async () => {
      const { w, moved, opt, h, c } = await oneStep(base1, "one");
      measured.push(`one step: weights ${w.toExponential(1)} (the step moved them ${moved.toExponential(1)}), optimizer ${opt.toExponential(1)}, h ${h.toExponential(1)}, c ${c.toExponential(1)}`);
      expect(moved).toBeGreaterThan(1e-4);
      for (const d of [w, opt, h, c]) expect(d).toBeLessThan(1e-5);
    }, 300_000);

    it("the LSTM without forget gate: one step with one rank = one rnn step (weights, optimizer, h within 1e-5; c, which grows without bound, within 1e-5 of its size)", async () => {
      const { w, moved, opt, h, c, cMax } = await oneStep(base3, "one-nofg");
      measured.push(`nofg one step: weights ${w.toExponential(1)} (moved ${moved.toExponential(1)}), optimizer ${opt.toExponential(1)}, h ${h.toExponential(1)}, c ${c.toExponential(1)} (max |c| ${cMax.toFixed(1)})`);
      expect(moved).toBeGreaterThan(1e-4);
      expect(cMax).toBeGreaterThan(1); // the cell state has grown: the carried c is what is under test
      for (const d of [w, opt, h]) expect(d).toBeLessThan(1e-5);
      expect(c).toBeLessThan(1e-5 * cMax);
    }, 300_000);

    it("2 gloo ranks continue a 20-step run for 20 steps; rnn train --resume --steps 60 continues for 20 more; the loss curve stays within 1e-3 of rnn's 60 steps in one go (no jump)", async () => {
      const run = path.join(tmp.dir, "ddp-2");
      copy(base2, run);
      const d = await ok(py([TRAIN_DDP, run, "--steps", "20", "--nproc", "2", "--backend", "gloo", "--timeout", "240", "--json"]), "train_ddp --nproc 2");
      const start = events(d.stdout).find((e) => e.type === "start")!;
      expect(start).toMatchObject({ world: 2, startStep: 20, totalSteps: 40, streamsPerRank: [2, 2], dropoutThreads: 2 });
      const ddp = stepLosses(d.stdout);
      expect(ddp.map(([s]) => s)).toEqual(Array.from({ length: 20 }, (_, i) => 21 + i));
      const r = await rnn(["train", "--resume", run, "--steps", "60", "--json"], { timeoutMs: 120_000 });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const after = stepLosses(r.stdout);
      expect(after.map(([s]) => s)).toEqual(Array.from({ length: 20 }, (_, i) => 41 + i));
      const dev = (xs: (readonly [number, number])[]) => Math.max(...xs.map(([s, l]) => Math.abs(l - ref.get(s)!)));
      const jump = Math.abs(after[0][1] - ref.get(41)!);
      measured.push(`2 ranks steps 21-40: max |Δloss| ${dev(ddp).toExponential(1)}; rnn after it, steps 41-60: ${dev(after).toExponential(1)} (step 41: ${jump.toExponential(1)})`);
      expect(dev(ddp)).toBeLessThan(1e-3);
      expect(dev(after)).toBeLessThan(1e-3);
      // the run directory is an rnn run: metrics of all three parts, eval works
      const steps = fs.readFileSync(path.join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((o) => o.kind !== "train").map((o) => o.step);
      expect(steps).toEqual([10, 20, 30, 40, 50, 60]);
      expect((await rnnEval(run, probe)).chars).toBeGreaterThan(1000);
    }, 400_000);

    it("the LSTM without forget gate: 2 gloo ranks continue a 20-step run for 20 steps (carrying c), rnn train --resume --steps 60 for 20 more; within 1e-3 of rnn's 60 steps", async () => {
      const run = path.join(tmp.dir, "ddp-2-nofg");
      copy(base3, run);
      const d = await ok(py([TRAIN_DDP, run, "--steps", "20", "--nproc", "2", "--backend", "gloo", "--timeout", "240", "--json"]), "train_ddp --nproc 2 (nofg)");
      expect(events(d.stdout).find((e) => e.type === "start")).toMatchObject({ world: 2, startStep: 20, totalSteps: 40, streamsPerRank: [2, 2] });
      const ddp = stepLosses(d.stdout);
      const r = await rnn(["train", "--resume", run, "--steps", "60", "--json"], { timeoutMs: 120_000 });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const after = stepLosses(r.stdout);
      expect([...ddp, ...after].map(([s]) => s)).toEqual(Array.from({ length: 40 }, (_, i) => 21 + i));
      const dev = (xs: (readonly [number, number])[]) => Math.max(...xs.map(([s, l]) => Math.abs(l - refNofg.get(s)!)));
      const s = decodeState(fs.readFileSync(path.join(run, STATE)), "ddp-2-nofg"), refState = decodeState(fs.readFileSync(path.join(ref3, STATE)), "ref3");
      const cMax = maxAbs(refState.c!);
      measured.push(`nofg 2 ranks steps 21-40: max |Δloss| ${dev(ddp).toExponential(1)}; rnn after it, 41-60: ${dev(after).toExponential(1)}; c at step 60 ${maxDiff(s.c!, refState.c!).toExponential(1)} (max |c| ${cMax.toFixed(1)})`);
      expect(dev(ddp)).toBeLessThan(1e-3);
      expect(dev(after)).toBeLessThan(1e-3);
      expect([s.step, s.epoch, s.chunk, s.rng]).toEqual([refState.step, refState.epoch, refState.chunk, refState.rng]);
      expect(maxDiff(s.c!, refState.c!)).toBeLessThan(1e-3 * Math.max(1, cMax));
    }, 400_000);

    it("3 gloo ranks (streams split 2/1/1) give rnn's loss curve with the same total batch, within 1e-3 over 50 steps", async () => {
      const run = path.join(tmp.dir, "ddp-3");
      copy(base2, run);
      const d = await ok(py([TRAIN_DDP, run, "--steps", "50", "--nproc", "3", "--backend", "gloo", "--timeout", "240", "--json"]), "train_ddp --nproc 3");
      expect(events(d.stdout).find((e) => e.type === "start")).toMatchObject({ world: 3, streamsPerRank: [2, 1, 1] });
      const ddp = stepLosses(d.stdout);
      expect(ddp).toHaveLength(50);
      const dev = Math.max(...ddp.map(([s, l]) => Math.abs(l - ref.get(s)!)));
      measured.push(`3 ranks steps 21-70: max |Δloss| ${dev.toExponential(1)}`);
      expect(dev).toBeLessThan(1e-3);
      const s = decodeState(fs.readFileSync(path.join(run, STATE)), "ddp-3");
      expect([s.step, s.epoch]).toEqual([70, 2]); // two epoch starts crossed (state reset at each)
      const refState = decodeState(fs.readFileSync(path.join(ref2, STATE)), "ref");
      expect(s.rng).toEqual(refState.rng); // dropout masks drawn as rnn draws them
      expect([s.chunk, s.optStep]).toEqual([refState.chunk, refState.optStep]);
    }, 400_000);
  });
});
