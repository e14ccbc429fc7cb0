// PyTorch loads rnn's checkpoints: test/reference/char_rnn.py builds nn.RNN / nn.LSTM / nn.GRU (or its
// NoForgetLSTM, for --cell lstm --no-forget-gate) from the safetensors file and scores a text under the same protocol as `rnn eval`; the two losses agree within 1e-4.
// Needs Debian's python3-torch (`apt-get install python3-torch libopenblas0-pthread`); skipped without it,
// since the rest of the suite needs only Node.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

const PY = "/usr/bin/python3";
const hasTorch = fs.existsSync(PY) && spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" }).status === 0;
const BIN = path.resolve(__dirname, "../bin/rnn.js");
const REF = path.resolve(__dirname, "reference/char_rnn.py");

describe.skipIf(!hasTorch)("PyTorch reproduces rnn eval from the checkpoint", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-torch-"));
  const corpus = path.join(dir, "corpus.txt");
  const text = fs.readFileSync(path.resolve(__dirname, "../data/longrange.txt"), "utf8").slice(0, 30_000);
  fs.writeFileSync(corpus, text);
  const probe = path.join(dir, "probe.txt");
  fs.writeFileSync(probe, text.slice(5_000, 7_000) + " ✈ unknown ☃ characters ");
  const cases = [
    ["rnn", "0", "tanh"], ["rnn", "0", "relu"], ["rnn", "16", "tanh"],
    ["lstm", "0", "tanh"], ["lstm", "16", "tanh"],
    ["gru", "0", "tanh"], ["gru", "16", "tanh"],
    ["lstm-nofg", "0", "tanh"], ["lstm-nofg", "16", "tanh"], // --cell lstm --no-forget-gate
  ] as const;
  const name = ([cell, embed, act]: readonly string[]) => `${cell}-${embed}-${act}`;
  let torchResults: Record<string, { loss: number; chars: number; skipped: number }> = {};
  beforeAll(() => {
    for (const c of cases) {
      const [cell, embed, act] = c;
      const args = ["train", corpus, "--out", path.join(dir, name(c)), ...(cell === "lstm-nofg" ? ["--cell", "lstm", "--no-forget-gate"] : ["--cell", cell]), "--embed", embed, "--hidden", "32", "--layers", "2", "--batch", "8", "--seq", "32", "--steps", "20", "--eval-every", "20", "--quiet"];
      if (cell === "rnn") args.push("--activation", act);
      const t = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
      if (t.status !== 0) throw new Error(`training ${name(c)} failed: ${t.stderr}`);
    }
    // one Python process scores every checkpoint (importing torch is the slow part)
    const script = `import json, sys; sys.path.insert(0, ${JSON.stringify(path.dirname(REF))})
from char_rnn import load_checkpoint, eval_text
text = open(${JSON.stringify(probe)}, encoding="utf-8").read()
out = {}
for n in ${JSON.stringify(cases.map(name))}:
    model, meta = load_checkpoint(${JSON.stringify(dir)} + "/" + n + "/latest.safetensors")
    out[n] = eval_text(model, meta["vocab"], text)
print(json.dumps(out))`;
    const py = spawnSync(PY, ["-c", script], { encoding: "utf8" });
    if (py.status !== 0) throw new Error(py.stderr);
    torchResults = JSON.parse(py.stdout);
  }, 300_000);
  for (const c of cases) {
    const [cell, embed, act] = c;
    it(`${cell}${cell === "rnn" ? `-${act}` : ""} ${embed === "0" ? "one-hot" : "embedding"}`, () => {
      const r = spawnSync(process.execPath, [BIN, "eval", "--model", path.join(dir, name(c)), probe, "--json"], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      const ours = JSON.parse(r.stdout);
      const theirs = torchResults[name(c)];
      expect(theirs.chars).toBe(ours.chars);
      expect(theirs.skipped).toBe(ours.skipped);
      expect(ours.skipped).toBeGreaterThan(0);
      if (process.env.RNN_GOLDEN_VERBOSE) console.log(`${name(c)}: |torch − rnn eval| = ${Math.abs(theirs.loss - ours.loss).toExponential(2)}`);
      expect(Math.abs(theirs.loss - ours.loss)).toBeLessThan(1e-4);
    });
  }
});

// --norm: the reference module (char_rnn.py NormedRNN) and the PyTorch companion (python/rnn_torch.py, whose
// file written back is byte for byte rnn's) load every kind of normalised checkpoint — weights, gains and,
// for batch norm, the running statistics — and reproduce rnn eval within 1e-4.
describe.skipIf(!hasTorch)("PyTorch reproduces rnn eval of --norm checkpoints", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-torch-norm-"));
  const corpus = path.join(dir, "corpus.txt");
  const text = fs.readFileSync(path.resolve(__dirname, "../data/longrange.txt"), "utf8").slice(0, 30_000);
  fs.writeFileSync(corpus, text);
  const probe = path.join(dir, "probe.txt");
  fs.writeFileSync(probe, text.slice(5_000, 7_000) + " ✈ unknown ☃ characters ");
  const cells: [string, string[]][] = [
    ["lstm", ["--cell", "lstm"]], ["lstm-nofg-embed", ["--cell", "lstm", "--no-forget-gate", "--embed", "16"]],
    ["gru-embed", ["--cell", "gru", "--embed", "16"]], ["rnn-relu", ["--cell", "rnn", "--activation", "relu"]],
    ["rnn-tanh-dropout", ["--cell", "rnn", "--dropout", "0.1"]],
  ];
  const cases = ["layer", "batch"].flatMap((norm) => cells.map(([c, flags]) => ({ name: `${norm}-${c}`, args: ["--norm", norm, ...flags] })));
  let torchResults: Record<string, { ref: { loss: number; chars: number; skipped: number }; companion: { loss: number }; sameBytes: boolean }> = {};
  beforeAll(() => {
    for (const c of cases) {
      const args = ["train", corpus, "--out", path.join(dir, c.name), ...c.args, "--hidden", "32", "--layers", "2", "--batch", "8", "--seq", "32", "--steps", "20", "--eval-every", "20", "--quiet"];
      const t = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
      if (t.status !== 0) throw new Error(`training ${c.name} failed: ${t.stderr}`);
    }
    const script = `import json, sys; sys.path.insert(0, ${JSON.stringify(path.dirname(REF))}); sys.path.insert(0, ${JSON.stringify(path.resolve(__dirname, "../python"))})
from char_rnn import load_checkpoint, eval_text
import rnn_torch
text = open(${JSON.stringify(probe)}, encoding="utf-8").read()
out = {}
for n in ${JSON.stringify(cases.map((c) => c.name))}:
    f = ${JSON.stringify(dir)} + "/" + n + "/latest.safetensors"
    model, meta = load_checkpoint(f)
    m, vocab, config = rnn_torch.load(f)
    again = rnn_torch.encode_model(m, vocab, m.meta["config"], int(m.meta["step"]), None if m.meta["best_val_loss"] == "null" else float(m.meta["best_val_loss"]))
    out[n] = {"ref": eval_text(model, meta["vocab"], text), "companion": rnn_torch.evaluate(m, vocab, text), "sameBytes": again == open(f, "rb").read()}
print(json.dumps(out))`;
    const py = spawnSync(PY, ["-c", script], { encoding: "utf8" });
    if (py.status !== 0) throw new Error(py.stderr);
    torchResults = JSON.parse(py.stdout);
  }, 300_000);
  for (const c of cases) {
    it(c.name, () => {
      const r = spawnSync(process.execPath, [BIN, "eval", "--model", path.join(dir, c.name), probe, "--json"], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      const ours = JSON.parse(r.stdout);
      const { ref, companion, sameBytes } = torchResults[c.name];
      expect(ref.chars).toBe(ours.chars);
      expect(ref.skipped).toBe(ours.skipped);
      if (process.env.RNN_GOLDEN_VERBOSE) console.log(`${c.name}: |torch − rnn eval| = ${Math.abs(ref.loss - ours.loss).toExponential(2)}, companion ${Math.abs(companion.loss - ours.loss).toExponential(2)}`);
      expect(Math.abs(ref.loss - ours.loss)).toBeLessThan(1e-4);
      expect(Math.abs(companion.loss - ours.loss)).toBeLessThan(1e-4);
      expect(sameBytes).toBe(true);
    });
  }
});
