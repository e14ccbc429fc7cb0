// The rnn command end to end, as spawned processes: train on a unicode corpus, sample, eval; memorise a
// string and reproduce it with `rnn sample --argmax --prime`; help, version, and usage errors.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

const BIN = path.resolve(__dirname, "../bin/rnn.js");
function rnn(args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", cwd: opts.cwd, timeout: 120_000, env: { ...process.env, FORCE_COLOR: "0" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SMALL = ["--hidden", "24", "--layers", "1", "--batch", "4", "--seq", "16"];
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-e2e-"));
});

describe("unicode corpus: train, sample, eval", () => {
  // emoji (astral, also a ZWJ-free flag-less set), CJK, accented Latin
  const lines = ["Zoë likes 🍕 and 🎉 a lot.", "東京に住んでいます。日本語を話します。", "Québec: 🐍🐍 ça va?", "naïve café — 😀 ok"];
  const corpusText = Array.from({ length: 300 }, (_, i) => lines[i % lines.length]).join("\n") + "\n";
  let corpus: string, run: string;
  beforeAll(() => {
    corpus = path.join(dir, "unicode.txt");
    fs.writeFileSync(corpus, corpusText);
    run = path.join(dir, "uni-run");
  });

  it("trains and saves", () => {
    const r = rnn(["train", corpus, "--out", run, "--steps", "30", "--eval-every", "10", "--lr", "0.01", ...SMALL, "--embed", "8"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/done · 30 steps/);
    expect(fs.existsSync(path.join(run, "latest.safetensors"))).toBe(true);
    expect(fs.existsSync(path.join(run, "best.safetensors"))).toBe(true);
  });

  it("samples emoji whole, never half a surrogate pair", () => {
    const r = rnn(["sample", "--model", run, "--length", "3000", "--temperature", "1.5", "--seed", "3"]);
    expect(r.code).toBe(0);
    const text = r.stdout;
    expect([...text].length).toBeGreaterThanOrEqual(3000);
    expect(text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    expect(text).toMatch(/[🍕🎉🐍😀]/u);
    const vocab = new Set(corpusText);
    for (const ch of text) expect(vocab.has(ch) || ch === "\n").toBe(true);
  });

  it("evaluates with bits/char and perplexity, and --json", () => {
    const r = rnn(["eval", "--model", run, corpus]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/nats\/char · [\d.]+ bits\/char · perplexity [\d.]+ · \d+ characters scored/);
    const j = rnn(["eval", "--model", run, corpus, "--json"]);
    const o = JSON.parse(j.stdout);
    expect(Object.keys(o).sort()).toEqual(["bpc", "chars", "loss", "perplexity", "skipped"]);
    expect(o.chars).toBe([...corpusText].length - 1);
    expect(o.bpc).toBeCloseTo(o.loss / Math.LN2, 10);
    expect(o.perplexity).toBeCloseTo(Math.exp(o.loss), 8);
    // without FILE: the validation split of the recorded corpus
    const v = JSON.parse(rnn(["eval", "--model", run, "--json"]).stdout);
    expect(v.chars).toBe(Math.floor([...corpusText].length * 0.05) - 1);
  });

  it("eval skips characters outside the vocabulary and reports them", () => {
    const f = path.join(dir, "other.txt");
    fs.writeFileSync(f, "Zoë likes 🍕 and ✈️ XYZ.");
    const o = JSON.parse(rnn(["eval", "--model", run, f, "--json"]).stdout);
    expect(o.skipped).toBeGreaterThan(0);
    expect(o.chars + o.skipped + 1).toBe([..."Zoë likes 🍕 and ✈️ XYZ."].length);
  });
});

describe("memorise, then reproduce with rnn sample --argmax --prime", () => {
  it("reaches loss < 0.05 and writes the string back", () => {
    const text = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n";
    const f = path.join(dir, "fox.txt");
    fs.writeFileSync(f, text);
    const run = path.join(dir, "fox-run");
    const r = rnn(["train", f, "--out", run, "--cell", "lstm", "--layers", "1", "--hidden", "64", "--batch", "1", "--seq", "21", "--val-frac", "0", "--lr", "0.01", "--steps", "400", "--json"]);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const end = events.find((e) => e.type === "end");
    expect(end.trainLoss).toBeLessThan(0.05);
    expect(events.map((e) => e.type)).toContain("start");
    const s = rnn(["sample", "--model", run, "--argmax", "--prime", "the quick", "--length", String(text.length - 10)]);
    expect(s.code).toBe(0);
    expect(s.stdout).toBe(text);
  });
});

describe("determinism", () => {
  it("the same command with the same seed writes the same checkpoint bytes; another seed does not", () => {
    const f = path.join(dir, "seed.txt");
    fs.writeFileSync(f, fs.readFileSync(path.resolve(__dirname, "../data/longrange.txt"), "utf8").slice(0, 20_000));
    const bytes = (seed: string) => {
      const out = path.join(dir, "seed-run");
      fs.rmSync(out, { recursive: true, force: true });
      const r = rnn(["train", f, "--out", out, ...SMALL, "--steps", "12", "--eval-every", "6", "--seed", seed, "--dropout", "0.1", "--quiet"]);
      expect(r.code, r.stderr).toBe(0);
      return ["latest.safetensors", "best.safetensors", "latest.state.safetensors"].map((n) => fs.readFileSync(path.join(out, n)));
    };
    const a = bytes("7"), b = bytes("7"), c = bytes("8");
    a.forEach((buf, i) => expect(Buffer.compare(buf, b[i])).toBe(0));
    expect(Buffer.compare(a[0], c[0])).not.toBe(0);
  });
});

describe("help, version, usage errors", () => {
  it("--help and --version exit 0", () => {
    for (const args of [["--help"], ["train", "--help"], ["sample", "--help"], ["eval", "--help"], ["--version"]]) {
      const r = rnn(args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
    }
  });

  it.each([
    [["train", "x.txt", "--hidden", "0"], /--hidden must be at least 1/],
    [["train", "x.txt", "--lr", "-1"], /--lr must be greater than 0/],
    [["train", "x.txt", "--lr", "NaN"], /--lr must be a finite number/],
    [["train", "x.txt", "--batch", "abc"], /--batch must be a whole number/],
    [["train", "x.txt", "--cell", "transformer"], /--cell must be one of rnn, lstm, gru/],
    [["train", "x.txt", "--optimizer", "lion"], /--optimizer must be one of/],
    [["train", "x.txt", "--activation", "gelu"], /--activation must be one of tanh, relu/],
    [["train", "x.txt", "--time", "soon"], /--time must be a positive duration/],
    [["train", "x.txt", "--bogus"], /unknown option '--bogus'/],
    [["sample", "--model", "nowhere", "--temperature", "0"], /--temperature must be greater than 0/],
    [["sample", "--model", "nowhere", "--length", "0"], /--length must be at least 1/],
  ])("%j exits 2 with one line", (args, msg) => {
    const r = rnn(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg as RegExp);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
