// DIR/metrics.jsonl and DIR/loss.svg: one line per evaluation and a train line every few steps, the plot
// redrawn each time, atomic writes, and on --resume the earlier lines kept except those after the resumed step. Last, a real `rnn train` run and
// its resumption through the CLI.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../src/cli/main.ts";
import { resolveTrainConfig } from "../src/config.ts";
import { LOSS_SVG, METRICS } from "../src/run/dir.ts";
import { metricsWriter, readMetrics, readMetricsRecords } from "../src/train/metrics.ts";
import type { TrainEvent } from "../src/train/train.ts";

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-metrics-")); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const cfg = () => resolveTrainConfig({ model: { cell: "rnn", hidden: 8, layers: 1, vocabSize: 5 } }, { threads: 1, out: dir });
const start = (resumed: boolean, startStep: number): TrainEvent => ({
  type: "start", config: cfg(), params: 100, vocab: 5, trainChars: 1000, valChars: 50, chunksPerEpoch: 10, totalSteps: 100,
  startStep, kernels: "ref-f32", resumed,
});
const evalAt = (step: number, o: Partial<TrainEvent & { type: "eval" }> = {}): TrainEvent => ({
  type: "eval", step, trainLoss: 3 - step / 1000, valLoss: 3.1 - step / 1000, bestValLoss: 3, improved: true, lr: 0.002,
  gradNorm: 1.5, clippedFrac: 0.25, penalty: 0.125, ...o,
});
const polylines = (svg: string) => [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => m[1].split(" ").length);
const lines = () => fs.readFileSync(path.join(dir, METRICS), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l));

describe("metricsWriter", () => {
  it("appends one line per evaluation and redraws loss.svg each time", () => {
    const w = metricsWriter(dir);
    w(start(false, 0));
    w({ type: "step", step: 1, totalSteps: 100, epoch: 0, loss: 3, penalty: 0, lr: 0.002, gradNorm: 1, clipped: false, charsPerSec: 1, elapsed: 1, eta: 1 });
    expect(fs.existsSync(path.join(dir, METRICS))).toBe(false); // nothing before the first evaluation
    for (const s of [100, 200, 300]) {
      w(evalAt(s));
      expect(lines().map((l) => l.step)).toEqual([100, 200, 300].filter((x) => x <= s));
      const svg = fs.readFileSync(path.join(dir, LOSS_SVG), "utf8");
      expect(svg).toContain("<svg");
      expect(svg).toContain("validation");
      if (s > 100) expect(polylines(svg)).toEqual([s / 100, s / 100]); // train and validation, one point per eval
    }
    expect(lines()[2]).toEqual({ kind: "eval", step: 300, trainLoss: 3 - 0.3, valLoss: 3.1 - 0.3, lr: 0.002, gradNorm: 1.5, clippedFrac: 0.25, penalty: 0.125 });
    expect(fs.readdirSync(dir).sort()).toEqual([LOSS_SVG, METRICS].sort()); // no temp files left behind
  });

  it("writes a non-finite number as null (the end-of-run evaluation has no gradient norm)", () => {
    const w = metricsWriter(dir);
    w(start(false, 0));
    w(evalAt(5, { gradNorm: NaN }));
    expect(lines()[0].gradNorm).toBeNull();
    expect(readMetrics(dir)[0].step).toBe(5);
  });

  it("a new run replaces an old file; a resumed run keeps lines up to the resumed step and appends", () => {
    fs.writeFileSync(path.join(dir, METRICS), [100, 200, 300, 400, 500].map((s) => JSON.stringify({ step: s, trainLoss: 1, valLoss: 1, lr: 1, gradNorm: 1, clippedFrac: 0, penalty: 0 })).join("\n") + "\n");
    const r = metricsWriter(dir);
    r(start(true, 300));
    expect(lines().map((l) => l.step)).toEqual([100, 200, 300]); // the evaluations after the checkpoint are redone
    r(evalAt(400, { trainLoss: 9 }));
    expect(lines().map((l) => [l.step, l.trainLoss])).toEqual([[100, 1], [200, 1], [300, 1], [400, 9]]);
    const svg = fs.readFileSync(path.join(dir, LOSS_SVG), "utf8");
    expect(polylines(svg)).toEqual([4, 4]);

    const n = metricsWriter(dir);
    n(start(false, 0));
    n(evalAt(50));
    expect(lines().map((l) => l.step)).toEqual([50]);
  });

  it("train lines: the mean of the steps since the previous one, every max(1, ⌊evalEvery/10⌋) steps; readMetrics leaves them out", () => {
    const w = metricsWriter(dir);
    w({ ...start(false, 0), config: { ...cfg(), evalEvery: 30 } } as TrainEvent); // a train line every 3 steps
    const step = (s: number, loss: number): TrainEvent => ({ type: "step", step: s, totalSteps: 100, epoch: 0, loss, penalty: 0, lr: 0.002, gradNorm: 1, clipped: false, charsPerSec: 1, elapsed: 1, eta: 1 });
    [1, 2, 3, 4, 5, 6, 7].forEach((s) => w(step(s, s)));
    w(evalAt(7));
    w({ type: "end", step: 7, reason: "steps", trainLoss: 7, valLoss: 1, bestValLoss: 1, elapsed: 1, charsPerSec: 1, out: dir });
    expect(lines().map((l) => [l.kind, l.step, l.loss, l.steps])).toEqual([["train", 3, 2, 3], ["train", 6, 5, 3], ["eval", 7, undefined, undefined], ["train", 7, 7, 1]]);
    expect(readMetrics(dir).map((l) => l.step)).toEqual([7]);
    const svg = fs.readFileSync(path.join(dir, LOSS_SVG), "utf8");
    expect(svg).toContain("bits per character");
    expect(svg).toContain("best validation loss: 3.0930 nats/char (4.462 bits/char) at step 7");
  });

  it("reads a file written before train lines existed: every line is an evaluation, plotted as before", () => {
    fs.writeFileSync(path.join(dir, METRICS), [100, 200].map((s) => JSON.stringify({ step: s, trainLoss: 2, valLoss: 3 - s / 1000, lr: 1, gradNorm: 1, clippedFrac: 0, penalty: 0 })).join("\n") + "\n");
    expect(readMetrics(dir).map((l) => [l.step, l.valLoss])).toEqual([[100, 2.9], [200, 2.8]]);
    const r = metricsWriter(dir);
    r(start(true, 200));
    const svg = fs.readFileSync(path.join(dir, LOSS_SVG), "utf8");
    expect(svg).toContain("train (mean since the previous evaluation)");
    expect(polylines(svg)).toEqual([2, 2]);
    expect(svg).toContain("at step 200");
  });

  it("skips unreadable lines of a hand-edited file", () => {
    fs.writeFileSync(path.join(dir, METRICS), `{"step":1,"trainLoss":2}\nnot json\n{"nostep":true}\n{"step":2,"trainLoss":1}\n`);
    expect(readMetrics(dir).map((l) => l.step)).toEqual([1, 2]);
  });
});

describe("rnn train writes metrics.jsonl and loss.svg (real run, then --resume)", () => {
  it("one line per evaluation; a resumed run continues the file, dropping lines after its checkpoint", async () => {
    const corpus = path.join(dir, "text.txt");
    fs.writeFileSync(corpus, "the quick brown fox jumps over the lazy dog. ".repeat(80));
    const out = path.join(dir, "run");
    const common = ["--quiet", "--kernels", "ref", "--eval-every", "2"];
    const code = await main(["node", "rnn", "train", corpus, "--out", out, "--cell", "rnn", "--hidden", "8", "--layers", "1", "--batch", "2", "--seq", "8", "--steps", "6", ...common]);
    expect(code).toBe(0);
    const first = readMetrics(out);
    expect(first.map((l) => l.step)).toEqual([2, 4, 6]);
    for (const l of first) {
      expect(l.trainLoss).toBeGreaterThan(0);
      expect(l.valLoss).toBeGreaterThan(0);
      expect(l.lr).toBe(0.002);
    }
    expect(first[0].gradNorm).toBeGreaterThan(0); // mean pre-clip norm of steps 1–2
    // the train curve has a point per step (evalEvery 2: a train line every max(1, ⌊2/10⌋) = 1 step), validation per evaluation
    expect(polylines(fs.readFileSync(path.join(out, LOSS_SVG), "utf8"))).toEqual([6, 3]);
    expect(readMetricsRecords(out).filter((l) => l.kind === "train").map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);

    // a crash after an evaluation at step 7 that was never checkpointed: its line must go
    fs.appendFileSync(path.join(out, METRICS), JSON.stringify({ ...first[2], step: 7 }) + "\n");
    const code2 = await main(["node", "rnn", "train", "--resume", out, "--steps", "8", ...common]);
    expect(code2).toBe(0);
    const second = readMetrics(out);
    expect(second.map((l) => l.step)).toEqual([2, 4, 6, 8]);
    expect(second.slice(0, 3)).toEqual(first);
  });
});
