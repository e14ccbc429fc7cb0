// Eval that scales: the text streams through the model in blocks with progress reported through a callback;
// `rnn eval` keeps only the ids it scores (the validation split's alone, read with readCorpus's `tail`), so its
// peak memory grows by about 2 bytes per scored character and not with the rest of the corpus; and the
// numbers are exactly those of the one-stream protocol as it was.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeModel, loadModel } from "../src/checkpoint/checkpoint.ts";
import { resolveTrainConfig } from "../src/config.ts";
import { splitTrainVal } from "../src/corpus/batches.ts";
import { readCorpus } from "../src/corpus/corpus.ts";
import { createEvaluator, evaluateIds, summarize } from "../src/eval/evaluate.ts";
import { refF32 } from "../src/kernels/ref.ts";
import { createModel, type Model } from "../src/model/model.ts";
import { makeRng } from "../src/rng.ts";
import { textIds } from "../src/cli/eval.ts";
import { makeCorpus, rnn, tempDir } from "./helpers/cli.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const tmp = tempDir("evalstream");
afterAll(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);

/** A model with random weights for `vocab`, saved as a checkpoint whose run corpus is `corpus`. */
function modelFor(vocab: string[], corpus: string, valFrac: number, file: string, hidden = 8): Model {
  const cfg = resolveTrainConfig({ model: { cell: "lstm", layers: 1, hidden, vocabSize: vocab.length }, corpus: [corpus], valFrac }, { threads: 1, out: tmp.dir });
  const m = createModel(cfg.model, refF32);
  const rng = makeRng(5);
  for (let i = 0; i < m.params.data.length; i++) m.params.data[i] = rng.normal() * 0.3;
  fs.writeFileSync(file, encodeModel(m, { config: cfg, vocab, step: 1, bestValLoss: null }));
  return m;
}

describe("createEvaluator: blocks and progress", () => {
  const text = fs.readFileSync(makeCorpus(tmp.dir, 3000, "small.txt"), "utf8");
  const c = readCorpus([at("small.txt")]);
  const m = modelFor(c.vocab, at("small.txt"), 0.1, at("small.safetensors"));

  it("reports progress after every block, up to the total, without changing the result", () => {
    const calls: [number, number][] = [];
    const withProgress = evaluateIds(m, c.ids, 256, (d, t) => calls.push([d, t]));
    expect(withProgress).toEqual(evaluateIds(m, c.ids));
    const n = text.length - 1;
    expect(calls).toHaveLength(Math.ceil(n / 256));
    expect(calls.at(-1)).toEqual([n, n]);
    expect(calls.every(([d], i) => i === 0 || d > calls[i - 1][0])).toBe(true);
    expect(withProgress.count).toBe(n);
  });

  it("a reused evaluator gives the same numbers every time (state reset, workspaces reused)", () => {
    const ev = createEvaluator(m);
    const a = ev(c.ids), b = ev(c.ids.subarray(0, 1000)), a2 = ev(c.ids);
    expect(a2).toEqual(a);
    expect(b.count).toBe(999);
  });
});

describe("readCorpus({ tail })", () => {
  it("keeps exactly the validation split's ids, in a buffer of that size, for any read size", () => {
    const f = makeCorpus(tmp.dir, 5000, "tail.txt", 3);
    fs.appendFileSync(f, "é日😀 end\n"); // multi-byte characters at the end
    const whole = readCorpus([f]);
    for (const valFrac of [0.05, 0.1, 0.5, 0.999]) {
      const want = splitTrainVal(whole.ids, valFrac).val;
      for (const chunkBytes of [1, 7, 4096, undefined]) {
        const c = readCorpus([f], undefined, { chunkBytes, tail: (n) => Math.floor(n * valFrac) });
        expect(c.vocab).toEqual(whole.vocab);
        expect(c.chars).toBe(whole.ids.length);
        expect(Array.from(c.ids)).toEqual(Array.from(want));
        expect(c.ids.buffer.byteLength).toBe(2 * want.length);
      }
    }
    expect(readCorpus([f], undefined, { tail: () => 0 }).ids.length).toBe(0);
    expect(readCorpus([f], undefined, { tail: () => 1e12 }).ids.length).toBe(whole.ids.length);
    expect(whole.chars).toBe(whole.ids.length);
  });

  it("across several files", () => {
    const a = makeCorpus(tmp.dir, 300, "ta.txt", 4), b = makeCorpus(tmp.dir, 200, "tb.txt", 5);
    const whole = readCorpus([a, b]);
    const c = readCorpus([a, b], undefined, { chunkBytes: 13, tail: () => 250 });
    expect(Array.from(c.ids)).toEqual(Array.from(whole.ids.subarray(250)));
  });
});

/** `rnn eval` in a child whose peak RSS (from process.resourceUsage at exit, via a --require'd hook) is read back. */
async function evalPeak(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; peakMB: number }> {
  const out = at(`rss-${Math.random().toString(36).slice(2)}.txt`);
  const pre = at("peak.cjs");
  fs.writeFileSync(pre, `process.on("exit", () => require("fs").writeFileSync(process.env.RNN_PEAK_FILE, String(process.resourceUsage().maxRSS)));\n`);
  const r = await rnn(["eval", ...args], { timeoutMs: 120_000, env: { NODE_OPTIONS: `--require=${pre}`, RNN_PEAK_FILE: out } });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, peakMB: Number(fs.readFileSync(out, "utf8")) / 1024 };
}

/** `mib` MiB made of `unit` repeated (each file at least 8 MiB: the corpus reader's buffers are then the same). */
function repeated(name: string, unit: Buffer, mib: number): string {
  const f = at(name);
  const fd = fs.openSync(f, "w");
  for (let i = 0; i < (mib << 20) / unit.length; i++) fs.writeSync(fd, unit);
  fs.closeSync(fd);
  return f;
}

describe("rnn eval memory", () => {
  const VAL = 1 << 18; // characters scored from the validation split
  let vocab: string[] = [];
  let base = "", big = "";
  beforeAll(() => {
    const unit = fs.readFileSync(makeCorpus(tmp.dir, 1 << 20, "unit.txt", 9));
    base = repeated("base.txt", unit, 9);
    big = repeated("big.txt", unit, 36);
    vocab = readCorpus([at("unit.txt")]).vocab;
    modelFor(vocab, base, VAL / (9 << 20), at("base-run.safetensors"), 4);
    modelFor(vocab, big, VAL / (36 << 20), at("big-run.safetensors"), 4);
  }, 60_000);

  it("the validation split: memory for the split's ids only, whatever the corpus size; the numbers exactly as before", async () => {
    const bigRun = await evalPeak(["--model", at("big-run.safetensors"), "--json", "--kernels", "ref"]);
    const baseRun = await evalPeak(["--model", at("base-run.safetensors"), "--json", "--kernels", "ref"]);
    expect(bigRun.code, bigRun.stderr).toBe(0);
    expect(baseRun.code, baseRun.stderr).toBe(0);
    expect(JSON.parse(bigRun.stdout).chars).toBe(VAL - 1);
    expect(JSON.parse(baseRun.stdout).chars).toBe(VAL - 1);
    // the same number of characters scored from a 36 MiB and a 9 MiB corpus: before, the 27 MiB more text cost
    // its ids (2 bytes per character, 54 MiB) — now nothing but noise
    expect(bigRun.peakMB - baseRun.peakMB).toBeLessThan(16);

    // exactly the numbers of the protocol as it was: whole corpus read, split, mapped to Int32, one stream
    const c = readCorpus([big]);
    const val = Int32Array.from(splitTrainVal(c.ids, VAL / (36 << 20)).val);
    const r = evaluateIds(loadModel(at("big-run.safetensors"), refF32).model, val);
    const s = summarize(r.lossSum, r.count);
    expect(bigRun.stdout).toBe(`${JSON.stringify({ loss: s.loss, bpc: s.bpc, perplexity: s.perplexity, chars: s.chars, skipped: 0 })}\n`);
  }, 120_000);

  it("a FILE: about 2 bytes per character of it (the ids, rewritten in place), not 6", () => {
    // textIds alone, in a child (its own peak memory): 15 MiB against 9 MiB of text the model knows, with the
    // model's ids shifted by one from the corpus reader's (a tab first in its vocabulary), so every id is rewritten
    const f15 = repeated("text15.txt", fs.readFileSync(at("unit.txt")), 15);
    const peak = (file: string) => {
      const code = `import { textIds } from "./src/cli/eval.ts";
const r = textIds(${JSON.stringify(file)}, ${JSON.stringify(["\t", ...vocab])});
if (r.ids[0] !== 1 + ${JSON.stringify(vocab)}.indexOf(${JSON.stringify(fs.readFileSync(file, "utf8").slice(0, 1))})) throw new Error("wrong ids");
console.log(process.resourceUsage().maxRSS / 1024, r.ids.length);`;
      const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      const [mb, n] = r.stdout.trim().split(" ").map(Number);
      return { mb, n };
    };
    const a = peak(f15), b = peak(base);
    expect(a.n).toBe(15 << 20);
    expect(b.n).toBe(9 << 20);
    const extraBytesPerChar = ((a.mb - b.mb) * (1 << 20)) / (6 << 20);
    // before: 2 (the corpus reader's ids) + 4 (an Int32Array of model ids) = 6 bytes per character
    expect(extraBytesPerChar).toBeLessThan(4);
  }, 120_000);

  it("textIds: the model's ids, unknown characters removed and counted", () => {
    const f = at("mixed.txt");
    fs.writeFileSync(f, "ab€c a€€b");
    const r = textIds(f, ["\t", " ", "a", "b", "c"]);
    expect(Array.from(r.ids)).toEqual([2, 3, 4, 1, 2, 3]);
    expect(r.skipped).toBe(3);
    expect(r.unknown).toEqual(["€"]);
    const same = textIds(f, [" ", "a", "b", "c", "€"]); // the file's own vocabulary: its ids as read
    expect(Array.from(same.ids)).toEqual([1, 2, 4, 3, 0, 1, 4, 4, 2]);
  });
});
