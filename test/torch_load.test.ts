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
