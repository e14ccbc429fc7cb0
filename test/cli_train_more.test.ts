// Issue 11's training side, end to end (spawned `rnn`): samples during training (--sample-every,
// --sample-length, samples.jsonl, the "sample" event) that change nothing else; the train loss every few steps
// in metrics.jsonl and loss.svg; fine-tuning (--init-from) with a remapped vocabulary; config files
// (--config, --like, `rnn info --json` as a config).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensorDigests } from "../scripts/pin-outputs.mjs";
import { loadModel, loadRunSettings } from "../src/checkpoint/checkpoint.ts";
import { readCheckpointFile } from "../src/io/safetensors.ts";
import { createModel } from "../src/model/model.ts";
import { initParams } from "../src/model/init.ts";
import { refF32 } from "../src/kernels/ref.ts";
import { resolveTrainConfig } from "../src/config.ts";
import { makeRng } from "../src/rng.ts";
import { remapIds, transplant, unionVocab } from "../src/train/finetune.ts";
import { readMetrics, readMetricsRecords } from "../src/train/metrics.ts";
import { readSamples } from "../src/train/samples.ts";
import { errLines, events, makeCorpus, rnn, SMALL, tempDir } from "./helpers/cli.ts";

const tmp = tempDir("trainmore");
afterAll(tmp.cleanup);
const corpus = makeCorpus(tmp.dir, 1200);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const config = (file: string) => JSON.parse(readCheckpointFile(file).metadata.config);
const digests = (run: string) => Object.fromEntries(["latest.safetensors", "best.safetensors", "latest.state.safetensors"].map((f) => [f, tensorDigests(path.join(run, f))]));

async function ok(args: string[], cwd = tmp.dir) {
  const r = await rnn(args, { cwd });
  expect(r.stderr, args.join(" ")).toBe("");
  expect(r.code, args.join(" ")).toBe(0);
  return r;
}

/** One line on stderr matching `re`, exit 2. */
async function refused(args: string[], re: RegExp) {
  const r = await rnn(args, { cwd: tmp.dir });
  expect(errLines(r.stderr), args.join(" ")).toEqual([expect.stringMatching(re)]);
  expect(r.code, args.join(" ")).toBe(2);
  expect(r.stdout).toBe("");
}

describe("samples during training", () => {
  const base = ["train", corpus, ...SMALL, "--steps", "12", "--eval-every", "4", "--checkpoint-every", "6", "--seed", "5"];

  it("every N steps a sample (own seed and state): a 'sample' event, a line of samples.jsonl, nothing else changed (1 and 2 threads)", async () => {
    for (const threads of ["1", "2"]) {
      const [withS, without] = await Promise.all([
        ok([...base, "--threads", threads, "--out", at(`s${threads}`), "--json", "--sample-every", "5", "--sample-length", "30"]),
        ok([...base, "--threads", threads, "--out", at(`n${threads}`), "-q"]),
      ]);
      const ev = events(withS.stdout).filter((e) => e.type === "sample");
      expect(ev.map((e) => e.step)).toEqual([5, 10]);
      const lines = readSamples(at(`s${threads}`));
      expect(lines).toEqual(ev.map(({ step, text, logprob }) => ({ step, text, logprob })));
      for (const l of lines) {
        expect([...l.text]).toHaveLength(30);
        expect(l.logprob).toBeLessThan(0);
      }
      // the training is untouched: same tensors (model, best, optimizer state, carried state), same metrics
      expect(digests(at(`s${threads}`)), `threads ${threads}`).toEqual(digests(at(`n${threads}`)));
      expect(fs.readFileSync(at(`s${threads}`, "metrics.jsonl"), "utf8")).toBe(fs.readFileSync(at(`n${threads}`, "metrics.jsonl"), "utf8"));
      expect(fs.existsSync(at(`n${threads}`, "samples.jsonl"))).toBe(false);
      // the run's config records the sample settings; one without them records nothing new
      expect(config(at(`s${threads}`, "latest.safetensors"))).toMatchObject({ sampleEvery: 5, sampleLength: 30 });
      expect(Object.keys(config(at(`n${threads}`, "latest.safetensors")))).not.toContain("sampleEvery");
    }
  }, 60_000);

  it("the sample is rnn sample's with the run's seed, after a newline: the same model gives the same text", async () => {
    const run = at("s1");
    const last = readSamples(run).at(-1)!;
    expect(last.step).toBe(10);
    await ok([...base, "--steps", "10", "--out", at("s10"), "-q", "--threads", "1"]);
    const r = await ok(["sample", "-m", at("s10"), "--seed", "5", "--length", "30"]);
    expect(r.stdout.replace(/\n$/, "")).toBe(last.text);
  }, 30_000);

  it("the human presenter prints the sample with its step", async () => {
    const r = await ok([...base, "--out", at("human"), "--sample-every", "6", "--sample-length", "20"]);
    expect(r.stdout).toMatch(/ {2}sample at step 6 \(log-probability -[\d.]+ nats\):\n {2}│/);
    expect(r.stdout.match(/sample at step/g)).toHaveLength(2);
  }, 30_000);

  it("resume appends (N + M = N+M, line for line); --force clears the file", async () => {
    const one = at("one"), split = at("split");
    await Promise.all([
      ok([...base, "--steps", "20", "--out", one, "-q", "--sample-every", "4", "--threads", "1"]),
      ok([...base, "--steps", "9", "--out", split, "-q", "--sample-every", "4", "--threads", "1"])
        .then(() => ok(["train", "--resume", split, "--steps", "20", "-q"])),
    ]);
    expect(readSamples(split).map((l) => l.step)).toEqual([4, 8, 12, 16, 20]);
    expect(fs.readFileSync(path.join(split, "samples.jsonl"), "utf8")).toBe(fs.readFileSync(path.join(one, "samples.jsonl"), "utf8"));
    await ok([...base, "--out", split, "--force", "-q"]);
    expect(fs.existsSync(path.join(split, "samples.jsonl"))).toBe(false);
  }, 60_000);

  it("bad values: one line, exit 2", async () => {
    await refused(["train", corpus, "--sample-every", "-1"], /--sample-every must be at least 0, got -1/);
    await refused(["train", corpus, "--sample-length", "0"], /--sample-length must be at least 1, got 0/);
    await refused(["train", corpus, "--sample-every", "often"], /--sample-every must be a whole number, got 'often'/);
  }, 30_000);
});

describe("metrics.jsonl: the train loss every few steps, labelled; loss.svg with both curves, bits/char and the best checkpoint", () => {
  it("a train line every max(1, evalEvery/10) steps with the mean of those steps; eval lines as before", async () => {
    const run = at("metrics");
    const r = await ok(["train", corpus, ...SMALL, "--steps", "25", "--eval-every", "20", "--out", run, "--json", "--threads", "1"]);
    const losses = new Map(events(r.stdout).filter((e) => e.type === "step").map((e) => [e.step as number, e.loss as number]));
    const all = readMetricsRecords(run);
    const train = all.filter((l) => l.kind === "train");
    // every 2 steps, and the last window (step 25, 1 step) at the end of the run
    expect(train.map((l) => [l.step, "steps" in l ? l.steps : 0])).toEqual([...Array.from({ length: 12 }, (_, i) => [2 * i + 2, 2]), [25, 1]]);
    for (const l of train) {
      if (l.kind !== "train") continue;
      const mean = Array.from({ length: l.steps }, (_, i) => losses.get(l.step - i)!).reduce((a, b) => a + b, 0) / l.steps;
      expect(l.loss).toBeCloseTo(mean, 12);
    }
    const evals = readMetrics(run);
    expect(evals.map((l) => [l.kind, l.step])).toEqual([["eval", 20], ["eval", 25]]);
    expect(evals[0].trainLoss).toBeCloseTo([...Array(20)].reduce((a, _, i) => a + losses.get(i + 1)!, 0) / 20, 12);
    const svg = fs.readFileSync(path.join(run, "loss.svg"), "utf8");
    expect(svg).toContain("bits per character");
    expect(svg).toContain("train (mean of each 2 steps)");
    const best = Math.min(...evals.map((l) => l.valLoss!));
    expect(svg).toContain(`best validation loss: ${best.toFixed(4)} nats/char`);
    expect(svg).toMatch(/<g class="marks">\n<circle /);
  }, 30_000);
});

describe("--init-from: fine-tuning", () => {
  // a model of "ABC" repeated, fine-tuned on a text with a new character, D
  const abc = at("abc.txt"), abcd = at("abcd.txt");
  fs.writeFileSync(abc, "ABC".repeat(600) + "\n");
  fs.writeFileSync(abcd, "ABCD".repeat(400) + "\n");
  const tiny = ["--hidden", "16", "--layers", "1", "--batch", "4", "--seq", "8", "--eval-every", "50", "--threads", "1"];

  it("the new character gets fresh rows and is sampled after fine-tuning; the old ones keep their rows and order", async () => {
    await ok(["train", abc, ...tiny, "--steps", "150", "--out", "abc-run", "-q", "--lr", "0.01"]);
    const r = await ok(["train", abcd, "--init-from", "abc-run", ...tiny, "--steps", "200", "--lr", "0.01", "--out", "abcd-run", "--json"]);
    const start = events(r.stdout)[0];
    expect(start).toMatchObject({ type: "start", vocab: 5, initFrom: { path: "abc-run/latest.safetensors", step: 150, added: ["D"] } });
    const meta = readCheckpointFile(at("abcd-run", "latest.safetensors")).metadata;
    expect(JSON.parse(meta.vocab)).toEqual(["\n", "A", "B", "C", "D"]);
    const cfg = JSON.parse(meta.config);
    expect(cfg).toMatchObject({ initFrom: at("abc-run", "latest.safetensors"), model: { cell: "lstm", hidden: 16, layers: 1, vocabSize: 5 } });
    const s = await ok(["sample", "-m", "abcd-run", "--length", "200", "--seed", "1"]);
    expect(s.stdout).toContain("D");
    expect(s.stdout).toContain("ABCD");
    // a new run: its own counters (step 200, not 350), optimizer from zero
    expect(meta.step).toBe("200");
    // the fine-tuned run resumes on its text (its vocabulary is the union)
    await ok(["train", "--resume", "abcd-run", "--steps", "210", "-q"]);
  }, 60_000);

  it("with embeddings, the embedding rows are remapped", async () => {
    await ok(["train", abc, ...tiny, "--embed", "4", "--steps", "100", "--out", "abc-emb", "-q", "--lr", "0.01"]);
    await ok(["train", abcd, "--init-from", "abc-emb/best.safetensors", ...tiny, "--steps", "200", "--lr", "0.01", "--out", "abcd-emb", "-q"]);
    const s = await ok(["sample", "-m", "abcd-emb", "--length", "200", "--seed", "1"]);
    expect(s.stdout).toContain("D");
  }, 60_000);

  it("architecture flags that agree are accepted; one that contradicts is refused by name; --resume is refused", async () => {
    await ok(["train", abcd, "--init-from", "abc-run", ...tiny, "--cell", "lstm", "--embed", "0", "--steps", "2", "--out", "agree", "-q"]);
    await refused(["train", abcd, "--init-from", "abc-run", "--hidden", "32", "--out", "x1"],
      /^rnn: error: --hidden 32 contradicts the model of --init-from abc-run\/latest\.safetensors \(lstm 1×16, one-hot, V=4\)/);
    await refused(["train", abcd, "--init-from", "abc-run", "--cell", "gru", "--out", "x2"], /--cell gru contradicts the model of --init-from/);
    await refused(["train", abcd, "--init-from", "abc-run", "--resume", "abc-run"], /--init-from starts a new run, --resume continues one/);
    await refused(["train", abcd, "--init-from", "nowhere"], /--init-from 'nowhere' does not exist/);
    expect(fs.existsSync(at("x1"))).toBe(false);
  }, 30_000);

  it("the union vocabulary and the row transplant, in process", () => {
    const u = unionVocab(["\n", "b", "z"], ["a", "b", "é", "\n"]);
    expect(u).toEqual({ vocab: ["\n", "b", "z", "a", "é"], added: ["a", "é"] });
    expect([...remapIds(new Uint16Array([0, 1, 2, 3]), ["\n", "a", "b", "é"], u.vocab)]).toEqual([0, 3, 1, 4]);
    for (const embed of [0, 3]) {
      const cfgOf = (V: number) => resolveTrainConfig({ model: { cell: "gru", hidden: 4, layers: 2, embed, vocabSize: V } }, { threads: 1, out: "x" });
      const src = createModel(cfgOf(3).model, refF32), dst = createModel(cfgOf(5).model, refF32), fresh = createModel(cfgOf(5).model, refF32);
      initParams(src, cfgOf(3), makeRng(1));
      initParams(dst, cfgOf(5), makeRng(2));
      initParams(fresh, cfgOf(5), makeRng(2));
      transplant(dst, u.vocab, src, ["\n", "b", "z"]);
      const v = (m: typeof src, n: string) => Array.from(m.params.views[n as "decoder.bias"]);
      for (const t of dst.spec.tensors) {
        const d = v(dst, t.name), s = v(src, t.name), f = v(fresh, t.name);
        const rowsOf = (a: number[], V: number) => Array.from({ length: V }, (_, i) => a.slice(i * (a.length / V), (i + 1) * (a.length / V)));
        if (t.name === "decoder.weight" || t.name === "decoder.bias" || t.name === "embedding.weight") {
          expect(rowsOf(d, 5).slice(0, 3), t.name).toEqual(rowsOf(s, 3)); // the model's characters: its rows
          expect(rowsOf(d, 5).slice(3), t.name).toEqual(rowsOf(f, 5).slice(3)); // new ones: a fresh model's rows
        } else if (t.name === "rnn.weight_ih_l0" && embed === 0) {
          const R = t.shape[0];
          for (let r = 0; r < R; r++) {
            expect(d.slice(r * 5, r * 5 + 3)).toEqual(s.slice(r * 3, r * 3 + 3));
            expect(d.slice(r * 5 + 3, r * 5 + 5)).toEqual(f.slice(r * 5 + 3, r * 5 + 5));
          }
        } else expect(d, t.name).toEqual(s);
      }
    }
  });
});

describe("config files: --config FILE, --like RUN, rnn info --json", () => {
  const flags = ["--cell", "gru", "--hidden", "12", "--layers", "2", "--batch", "3", "--seq", "7", "--lr", "0.005", "--dropout", "0.1",
    "--eval-every", "4", "--seed", "9", "--steps", "8", "--threads", "1", "--sample-every", "4"];
  const orig = at("orig");
  beforeAll(() => ok(["train", corpus, ...flags, "--out", orig, "-q"]), 30_000);
  const strip = (c: Record<string, unknown>) => ({ ...c, out: undefined });

  it("--like RUN trains the same run again (same config but --out, same tensors); flags override it", async () => {
    await ok(["train", "--like", orig, "--out", "like1", "-q"]);
    expect(strip(config(at("like1", "latest.safetensors")))).toEqual(strip(config(path.join(orig, "latest.safetensors"))));
    expect(digests(at("like1"))).toEqual(digests(orig));
    await ok(["train", corpus, "--like", orig, "--hidden", "10", "--epochs", "1", "--out", "like2", "-q"]);
    const c = config(at("like2", "latest.safetensors"));
    expect(c).toMatchObject({ model: { cell: "gru", hidden: 10, layers: 2 }, batch: 3, seq: 7, lr: 0.005, dropout: 0.1, seed: 9, sampleEvery: 4 });
    // the budget is the run's, kept in its training state (a model checkpoint holds none: issue 14's same bytes)
    const step = loadModel(at("like2"), refF32).meta.step;
    expect(loadRunSettings(at("like2"), step)?.config).toMatchObject({ epochs: 1, steps: 0 });
    // another cell on top: the forget bias is the new cell's default, not the stored one (gru → lstm: 1; lstm → gru: none)
    await ok(["train", "--like", orig, "--cell", "lstm", "--steps", "2", "--out", "like3", "-q"]);
    expect(config(at("like3", "latest.safetensors"))).toMatchObject({ model: { cell: "lstm" }, forgetBias: 1 });
    await ok(["train", "--like", "like3", "--cell", "gru", "--steps", "2", "--out", "like4", "-q"]);
    expect(config(at("like4", "latest.safetensors"))).toMatchObject({ model: { cell: "gru" }, forgetBias: null });
  }, 60_000);

  it("rnn info --json output, and a checkpoint's config, are configs; flags override; paths are relative to the file", async () => {
    const info = await ok(["info", orig, "--json"]);
    fs.writeFileSync(at("info.json"), info.stdout);
    await ok(["train", "--config", "info.json", "--out", "cfg1", "-q"]);
    expect(digests(at("cfg1"))).toEqual(digests(orig));
    const stored = config(path.join(orig, "latest.safetensors"));
    fs.mkdirSync(at("sub"), { recursive: true });
    fs.writeFileSync(at("sub", "run.json"), JSON.stringify({ ...stored, corpus: [path.relative(at("sub"), corpus)], out: "cfg2" }));
    await ok(["train", "--config", "sub/run.json", "--seq", "5", "-q"]);
    expect(config(at("sub", "cfg2", "latest.safetensors"))).toMatchObject({ seq: 5, batch: 3, corpus: [corpus], model: { hidden: 12 } });
  }, 60_000);

  it("refuses, in one line naming the key: unknown keys, values a flag would refuse, --config with --like or --resume", async () => {
    const stored = config(path.join(orig, "latest.safetensors"));
    const write = (name: string, o: unknown) => fs.writeFileSync(at(name), typeof o === "string" ? o : JSON.stringify(o));
    write("unknown.json", { ...stored, hiden: 3 });
    write("unknown-model.json", { ...stored, model: { ...stored.model, hiden: 3 } });
    write("zero.json", { ...stored, model: { ...stored.model, hidden: 0 } });
    write("lr.json", { ...stored, lr: "fast" });
    write("cell.json", { ...stored, model: { ...stored.model, cell: "transformer" } });
    write("broken.json", "{ not json");
    await refused(["train", "--config", "unknown.json"], /^rnn: error: unknown\.json: unknown key "hiden"/);
    await refused(["train", "--config", "unknown-model.json"], /unknown-model\.json: unknown key "model\.hiden"/);
    await refused(["train", "--config", "zero.json"], /zero\.json: model\.hidden must be at least 1, got 0$/);
    await refused(["train", "--config", "lr.json"], /lr\.json: lr must be a number, got "fast"$/);
    await refused(["train", "--config", "cell.json"], /cell\.json: model\.cell must be one of rnn, lstm, gru.*; got 'transformer'$/);
    await refused(["train", "--config", "broken.json"], /--config 'broken\.json' is not valid JSON/);
    await refused(["train", "--config", "missing.json"], /--config 'missing\.json' does not exist/);
    await refused(["train", "--config", "zero.json", "--like", orig], /--config and --like both give/);
    await refused(["train", "--like", orig, "--resume", orig], /--like starts a new run, --resume continues one/);
    await refused(["train", "--like", "nowhere"], /--like 'nowhere' does not exist/);
  }, 60_000);
});
