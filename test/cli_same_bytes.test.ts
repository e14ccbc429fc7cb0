// Issue 14, defect 6: "same seed, same bytes" and "split + resume = straight run" hold for every file a run
// writes, in any directory. What belongs to one run directory or one invocation (the output path, the budget
// --steps / --epochs / --time) is kept out of the model checkpoints' config: latest, best and step-NNNNNN
// hold the model config and the training hyper-parameters; latest.state holds the run's whole effective
// config but its path (a resumed run's directory is the one it is resumed in). Resume still restores the
// budget, and continues in the directory it is given, wherever the run was moved.
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeState, encodeState } from "../src/checkpoint/checkpoint.ts";
import { encodeSafetensors, readCheckpointFile } from "../src/io/safetensors.ts";
import { events, makeCorpus, rnn, SMALL, snapshot, tempDir } from "./helpers/cli.ts";

const tmp = tempDir("samebytes");
afterAll(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const corpus = makeCorpus(tmp.dir, 1500);
const FLAGS = [...SMALL, "--threads", "1", "--dropout", "0.1", "--seed", "3", "--eval-every", "10", "--checkpoint-every", "10", "--keep", "4", "-q"];
const MODEL_FILES = (n: string) => n.endsWith(".safetensors");
const meta = (file: string) => readCheckpointFile(file).metadata;

async function ok(args: string[], cwd?: string) {
  const r = await rnn(args, { cwd });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r;
}

describe.concurrent("every file, in any directory", () => {
  it("a run split at step 20 and resumed to 40 writes the same files as one run to 40, in another directory", async () => {
    const whole = at("a", "whole"), split = at("b", "deeper", "split-run");
    await Promise.all([
      ok(["train", corpus, "--out", whole, "--steps", "40", ...FLAGS]),
      ok(["train", corpus, "--out", split, "--steps", "20", ...FLAGS]).then(() => ok(["train", "--resume", split, "--steps", "40", "-q"])),
    ]);
    const w = snapshot(whole, MODEL_FILES), s = snapshot(split, MODEL_FILES);
    expect(Object.keys(s)).toEqual(["best.safetensors", "latest.safetensors", "latest.state.safetensors", "step-000010.safetensors",
      "step-000020.safetensors", "step-000030.safetensors", "step-000040.safetensors"]);
    // step-000020 was written by the first half (budget 20) and by the straight run (budget 40): the same bytes
    expect(s["step-000020.safetensors"]).toBe(w["step-000020.safetensors"]);
    expect(s).toEqual(w);
    expect(fs.readFileSync(path.join(split, "metrics.jsonl"), "utf8")).toBe(fs.readFileSync(path.join(whole, "metrics.jsonl"), "utf8"));
  }, 60_000);

  it("the same command in two directories (one relative, one absolute) writes byte-identical checkpoints and state", async () => {
    const cwd = at("cwd");
    fs.mkdirSync(cwd);
    await Promise.all([
      ok(["train", corpus, "--out", "rel-run", "--steps", "25", ...FLAGS], cwd),
      ok(["train", corpus, "--out", at("x", "y", "abs-run"), "--steps", "25", ...FLAGS]),
    ]);
    const a = snapshot(path.join(cwd, "rel-run"), MODEL_FILES), b = snapshot(at("x", "y", "abs-run"), MODEL_FILES);
    expect(Object.keys(a)).toEqual(["best.safetensors", "latest.safetensors", "latest.state.safetensors", "step-000010.safetensors",
      "step-000020.safetensors", "step-000025.safetensors"]);
    expect(a).toEqual(b);
  }, 60_000);
});

describe.concurrent("what is stored where", () => {
  it("model checkpoints hold no path and no budget; the state holds the whole effective config but the path", async () => {
    const dir = at("stored");
    await ok(["train", corpus, "--out", dir, "--steps", "12", "--epochs", "9", ...FLAGS]);
    for (const f of ["latest.safetensors", "best.safetensors", "step-000010.safetensors"]) {
      const cfg = JSON.parse(meta(path.join(dir, f)).config);
      for (const k of ["out", "steps", "epochs", "time"]) expect(cfg, `${f} ${k}`).not.toHaveProperty(k);
      // what PyTorch's loader (test/reference/char_rnn.py) and rnn eval / diagnose read is there
      expect(cfg.model).toMatchObject({ cell: "lstm", hidden: 16, layers: 1 });
      expect(cfg).toMatchObject({ corpus: [corpus], valFrac: 0.05, seq: 8, batch: 4, threads: 1, seed: 3, dropout: 0.1 });
    }
    const state = JSON.parse(meta(path.join(dir, "latest.state.safetensors")).config);
    expect(state).toMatchObject({ steps: 12, epochs: 9, time: 0, threads: 1, seed: 3, corpus: [corpus], model: { hidden: 16 } });
    expect(state).not.toHaveProperty("out");
  }, 60_000);

  it("resume restores the budget from the state, and continues in the directory it is given (the run was moved)", async () => {
    // --patience 1 stops the first run early, on its own, at a step fixed by the seed (no timing involved)
    const first = at("moved-from");
    const r = await ok(["train", corpus, "--out", first, ...SMALL, "--threads", "1", "--lr", "0.5", "--eval-every", "1", "--patience", "1",
      "--checkpoint-every", "1000", "--steps", "60", "--json"]);
    const end = events(r.stdout).at(-1)!;
    expect(end).toMatchObject({ type: "end", reason: "patience" });
    expect(end.step as number).toBeLessThan(60);
    const moved = at("moved", "to-here");
    fs.mkdirSync(path.dirname(moved));
    fs.renameSync(first, moved);
    // no budget given: the stored one (--steps 60); --patience 0 lets it run to its end
    const again = await ok(["train", "--resume", moved, "--patience", "0", "--json"]);
    const ev = events(again.stdout);
    expect(ev[0]).toMatchObject({ type: "start", resumed: true, startStep: end.step, totalSteps: 60 });
    expect((ev[0].config as { steps: number; out: string }).out).toBe(moved);
    expect(ev.at(-1)).toMatchObject({ type: "end", step: 60, reason: "steps", out: moved });
    expect(meta(path.join(moved, "latest.safetensors")).step).toBe("60");
    expect(fs.existsSync(first)).toBe(false);
  }, 60_000);

  it("a run of an older rnn (its model checkpoint holds path and budget, its state no config) resumes with its budget", async () => {
    const dir = at("older");
    await ok(["train", corpus, "--out", dir, ...SMALL, "--threads", "1", "--steps", "6", "--epochs", "50", "-q"]);
    // rewrite it as an older rnn wrote it: the whole config, path and budget, in latest.safetensors only
    const latest = path.join(dir, "latest.safetensors"), stateFile = path.join(dir, "latest.state.safetensors");
    const { tensors, metadata } = readCheckpointFile(latest);
    const cfg = { ...JSON.parse(metadata.config), steps: 9, epochs: 0, time: 0, out: "/somewhere/it/was" };
    fs.writeFileSync(latest, encodeSafetensors([...tensors].map(([name, t]) => ({ name, ...t })), { ...metadata, config: JSON.stringify(cfg) }));
    fs.writeFileSync(stateFile, encodeState({ ...decodeState(fs.readFileSync(stateFile), stateFile), config: null }));
    expect(meta(stateFile).config).toBeUndefined();
    const r = await ok(["train", "--resume", dir, "--json"]);
    const ev = events(r.stdout);
    expect(ev[0]).toMatchObject({ type: "start", startStep: 6, totalSteps: 9 });
    expect(ev.at(-1)).toMatchObject({ type: "end", step: 9, out: dir });
    // saved by this rnn: the budget now in the state, none in the model
    expect(JSON.parse(meta(stateFile).config)).toMatchObject({ steps: 9, epochs: 0 });
    expect(JSON.parse(meta(latest).config)).not.toHaveProperty("steps");
  }, 60_000);
});
