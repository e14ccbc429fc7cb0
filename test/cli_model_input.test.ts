// `--model` through the real binary: a crafted checkpoint (layers 1e9, correct checksum) exits 1 with one line
// instead of allocating until V8 dies; /dev/zero, a FIFO and a symbolic link loop are refused at once (exit 2,
// one line) instead of growing without bound, blocking forever, or being called missing.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeModel } from "../src/checkpoint/checkpoint.ts";
import { resolveTrainConfig } from "../src/config.ts";
import { decodeSafetensors, encodeSafetensors } from "../src/io/safetensors.ts";
import { refF32 } from "../src/kernels/ref.ts";
import { createModel } from "../src/model/model.ts";
import { type CliResult, errLines, makeCorpus, rnn, tempDir } from "./helpers/cli.ts";

const tmp = tempDir("model-input");
afterAll(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const corpus = makeCorpus(tmp.dir, 500);
const hasMkfifo = (() => {
  try {
    execFileSync("mkfifo", [at("probe")]);
    return true;
  } catch {
    return false;
  }
})();

beforeAll(() => {
  const vocab = [...new Set(fs.readFileSync(corpus, "utf8"))].sort();
  const cfg = resolveTrainConfig({ model: { cell: "lstm", layers: 1, hidden: 8, vocabSize: vocab.length }, corpus: [corpus] }, { threads: 1, out: at("run") });
  const good = encodeModel(createModel(cfg.model, refF32), { config: cfg, vocab, step: 1, bestValLoss: null });
  fs.writeFileSync(at("good.safetensors"), good);
  // the attack: edit the config, re-encode (which recomputes the checksum over the whole file)
  const d = decodeSafetensors(good, "good");
  const config = JSON.parse(d.metadata.config);
  config.model.layers = 1e9;
  fs.writeFileSync(at("crafted.safetensors"), encodeSafetensors([...d.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })), { ...d.metadata, config: JSON.stringify(config) }));
  fs.symlinkSync(at("loop-b"), at("loop-a"));
  fs.symlinkSync(at("loop-a"), at("loop-b"));
});

/** exited by itself, non-zero, with exactly one line on stderr, which is returned */
function oneLine(r: CliResult, code: number): string {
  expect(r.timedOut, "killed by the test's timeout").toBe(false);
  expect(r.signal).toBeNull();
  const lines = errLines(r.stderr);
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.code).toBe(code);
  return lines[0];
}

describe("--model checks, through the binary", () => {
  it("the good checkpoint samples (the control)", async () => {
    const r = await rnn(["sample", "--model", at("good.safetensors"), "--length", "20"]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("sample --model crafted (layers 1e9, checksum recomputed): exit 1, one line, no crash", async () => {
    const line = oneLine(await rnn(["sample", "--model", at("crafted.safetensors")], { timeoutMs: 30_000 }), 1);
    expect(line).toBe(`rnn: error: ${at("crafted.safetensors")} is not a valid rnn checkpoint: config.model.layers is 1000000000, not a whole number in 1..1024; it was not written by rnn train or was altered — use another checkpoint`);
  });

  it("eval --model crafted: exit 1, one line", async () => {
    const line = oneLine(await rnn(["eval", "--model", at("crafted.safetensors"), corpus], { timeoutMs: 30_000 }), 1);
    expect(line).toMatch(/is not a valid rnn checkpoint: config\.model\.layers is 1000000000/);
  });

  it("sample --model /dev/zero: refused at once (it used to grow to gigabytes)", async () => {
    const line = oneLine(await rnn(["sample", "--model", "/dev/zero"], { timeoutMs: 20_000 }), 2);
    expect(line).toBe("rnn: error: --model '/dev/zero' is a character device, not a regular file: rnn reads only regular files (a pipe or device may block or never end); give a run directory (e.g. runs/my-run) or a .safetensors checkpoint");
  });

  it("eval --model /dev/zero: refused at once", async () => {
    expect(oneLine(await rnn(["eval", "--model", "/dev/zero", corpus], { timeoutMs: 20_000 }), 2)).toMatch(/character device, not a regular file/);
  });

  it.skipIf(!hasMkfifo)("sample --model FIFO: refused at once (it used to block forever)", async () => {
    const fifo = at("model.fifo");
    execFileSync("mkfifo", [fifo]);
    expect(oneLine(await rnn(["sample", "--model", fifo], { timeoutMs: 20_000 }), 2)).toMatch(/--model '.*model\.fifo' is a named pipe \(FIFO\), not a regular file/);
  });

  it("--model a symbolic link loop: says loop, not 'does not exist'", async () => {
    const line = oneLine(await rnn(["sample", "--model", at("loop-a")]), 2);
    expect(line).toMatch(/--model '.*loop-a' is a symbolic link loop .*: fix or remove the link, or give the real path/);
  });
});
