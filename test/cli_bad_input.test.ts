// Every bad input gets one line on stderr that names the problem and the fix, exit code 2 (usage) or 1
// (runtime), and nothing half-written. The table runs in-process through main() (fast enough to cover every
// numeric flag of every command with every kind of bad value); a sample of it runs through the real binary to
// show the process exits the same way, without a stack trace.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../src/cli/main.ts";
import { encodeSafetensors, FORMAT_VERSION, readCheckpointFile } from "../src/io/safetensors.ts";
import { errLines, makeCorpus, rnn, runMain, SMALL, snapshot, tempDir } from "./helpers/cli.ts";

const tmp = tempDir("badinput");
afterAll(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const corpus = makeCorpus(tmp.dir, 2000);
const run = at("run"); // a real run, trained in beforeAll
const MISSING = at("no-such-file.txt");

beforeAll(async () => {
  const r = await rnn(["train", corpus, "--out", run, ...SMALL, "--steps", "2", "-q"]);
  expect(r.code).toBe(0);
  const latest = fs.readFileSync(path.join(run, "latest.safetensors"));
  // damaged copies of the checkpoint
  fs.writeFileSync(at("truncated.safetensors"), latest.subarray(0, latest.length >> 1));
  const flipped = Buffer.from(latest);
  flipped[flipped.length - 100] ^= 0x10; // one bit of one weight
  fs.writeFileSync(at("flipped.safetensors"), flipped);
  const { tensors, metadata } = readCheckpointFile(path.join(run, "latest.safetensors"));
  fs.writeFileSync(at("newer.safetensors"), encodeSafetensors(
    [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })),
    { ...metadata, format_version: String(FORMAT_VERSION + 1) },
  ));
  fs.cpSync(run, at("run-flipped"), { recursive: true });
  fs.copyFileSync(at("flipped.safetensors"), at("run-flipped", "latest.safetensors"));
  // bad corpora
  fs.mkdirSync(at("a-directory"));
  fs.writeFileSync(at("empty.txt"), "");
  fs.writeFileSync(at("binary.txt"), Buffer.from("abc\0def ghi jkl mno pqr stu vwx yz abc def ghi jkl mno pqr stu"));
  // "hello wörld\n" is 13 bytes (ö takes two); then 0xC3 starts a sequence that 0x28 '(' does not continue
  fs.writeFileSync(at("latin.txt"), Buffer.concat([Buffer.from("hello wörld\n"), Buffer.from([0xc3, 0x28]), Buffer.from(" and more text\n".repeat(10))]));
  fs.writeFileSync(at("short.txt"), "abcdefghij");
  fs.writeFileSync(at("unknown-chars.txt"), "the king €€ and 日本\n");
}, 30_000);

interface Case {
  name: string;
  args: () => string[];
  code: 1 | 2;
  /** the one line, after "rnn: error: " */
  line: RegExp;
}

const out = (name: string) => ["--out", at("out", name)]; // must not exist afterwards
const train = (name: string, ...a: string[]) => () => ["train", ...a, ...out(name), ...SMALL, "--steps", "2"];

const CASES: Case[] = [
  { name: "missing corpus file", args: train("missing", MISSING), code: 1, line: /corpus file '.*no-such-file\.txt' not found: check the path/ },
  { name: "corpus is a directory", args: train("dir", at("a-directory")), code: 1, line: /is a directory: pass the text file\(s\) inside it instead/ },
  { name: "empty corpus", args: train("empty", at("empty.txt")), code: 1, line: /is empty: give a file with some text/ },
  { name: "binary corpus (NUL bytes)", args: train("binary", at("binary.txt")), code: 1, line: /looks binary: it contains a NUL byte at byte offset 3; pass a UTF-8 text file/ },
  { name: "invalid UTF-8, with the byte offset", args: train("latin", at("latin.txt")), code: 1, line: /is not valid UTF-8: .* at byte offset 13; convert it to UTF-8 \(e\.g\. iconv/ },
  { name: "corpus shorter than batch × seq + 1", args: train("short", at("short.txt")), code: 2, line: /training text has 10 characters; --batch 4 --seq 8 needs at least 33\. Try --batch \d+ --seq \d+/ },
  { name: "unknown --cell", args: train("cell", corpus, "--cell", "transformer"), code: 2, line: /--cell must be one of rnn, lstm, gru; got 'transformer'/ },
  { name: "unknown --optimizer", args: train("opt", corpus, "--optimizer", "lamb"), code: 2, line: /--optimizer must be one of adam, rmsprop, adagrad, sgd, adamw; got 'lamb'/ },
  { name: "unknown --activation", args: train("act", corpus, "--activation", "gelu"), code: 2, line: /--activation must be one of tanh, relu; got 'gelu'/ },
  { name: "--out naming an existing run", args: () => ["train", corpus, "--out", run, ...SMALL, "--steps", "2"], code: 2, line: /already holds a run: continue it with --resume .*, overwrite it with --force, or choose another --out/ },
  { name: "--val-frac leaving nothing to train on", args: train("vf-train", corpus, "--val-frac", "0.99"), code: 2, line: /--val-frac 0\.99 leaves 20 of 2000 characters to train on, and --batch 4 --seq 8 needs 33; lower --val-frac/ },
  { name: "--val-frac leaving nothing to validate on", args: train("vf-val", corpus, "--val-frac", "0.0001"), code: 2, line: /--val-frac 0\.0001 leaves 0 validation characters \(at least 2 needed\); raise it, or use --val-frac 0/ },
  { name: "--model missing", args: () => ["sample", "-m", MISSING], code: 2, line: /--model '.*' does not exist: give a run directory/ },
  { name: "--model not a checkpoint", args: () => ["sample", "-m", corpus], code: 1, line: /is not an rnn checkpoint \(safetensors\): .*check the path/ },
  { name: "--model truncated", args: () => ["sample", "-m", at("truncated.safetensors")], code: 1, line: /is truncated .*: the file was cut short; use an earlier checkpoint/ },
  { name: "--model bit-flipped", args: () => ["sample", "-m", at("flipped.safetensors")], code: 1, line: /is corrupt: checksum mismatch .*; use an earlier checkpoint/ },
  { name: "--model of a newer format version", args: () => ["sample", "-m", at("newer.safetensors")], code: 1, line: new RegExp(`was written by a newer rnn \\(format ${FORMAT_VERSION + 1}, this rnn reads up to ${FORMAT_VERSION}\\); upgrade rnn`) },
  { name: "--model a directory that holds no run", args: () => ["sample", "-m", at("a-directory")], code: 2, line: /is a directory without latest\.safetensors/ },
  { name: "eval --model truncated", args: () => ["eval", "-m", at("truncated.safetensors"), corpus], code: 1, line: /is truncated .*use an earlier checkpoint/ },
  { name: "eval --model bit-flipped", args: () => ["eval", "-m", at("flipped.safetensors"), corpus], code: 1, line: /checksum mismatch/ },
  { name: "eval text missing", args: () => ["eval", "-m", run, MISSING], code: 1, line: /not found: check the path/ },
  { name: "--resume of a run whose checkpoint is bit-flipped", args: () => ["train", "--resume", at("run-flipped"), "--steps", "4"], code: 1, line: /checksum mismatch .*use an earlier checkpoint/ },
  { name: "--prime with characters outside the vocabulary", args: () => ["sample", "-m", run, "--prime", "the €"], code: 2, line: /--prime has 1 character the model never saw: "€"; use characters of the training text/ },
  { name: "--length 0", args: () => ["sample", "-m", run, "--length", "0"], code: 2, line: /--length must be at least 1, got 0/ },
  { name: "--temperature 0", args: () => ["sample", "-m", run, "--temperature", "0"], code: 2, line: /--temperature must be greater than 0, got 0/ },
  { name: "--temperature -0.5", args: () => ["sample", "-m", run, "-t", "-0.5"], code: 2, line: /--temperature must be greater than 0, got -0\.5/ },
];

describe("bad inputs: one line, the right exit code, nothing written", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const before = snapshot(run);
      const r = await runMain(c.args());
      const lines = errLines(r.stderr);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^rnn: error: /);
      expect(lines[0].slice("rnn: error: ".length)).toMatch(c.line);
      expect(r.code).toBe(c.code);
      expect(r.stdout).toBe("");
      expect(fs.existsSync(at("out")) ? fs.readdirSync(at("out")) : []).toEqual([]);
      expect(snapshot(run)).toEqual(before);
    });
  }

  it("the batch/seq sizes suggested for a short corpus do fit it", async () => {
    const r = await runMain(train("short2", at("short.txt"))());
    const tries = [...r.stderr.matchAll(/--batch (\d+) --seq (\d+)/g)].slice(1); // the first is the one that failed
    expect(tries.length).toBeGreaterThan(0);
    for (const [, b, t] of tries) {
      expect(Number(b) * Number(t) + 1).toBeLessThanOrEqual(10);
      const ok = await runMain(["train", at("short.txt"), "--out", at("fits", `${b}x${t}`), "--hidden", "4", "--layers", "1", "--batch", b, "--seq", t,
        "--steps", "1", "--val-frac", "0", "-q", "--kernels", "ref"]);
      expect(ok.stderr).toBe("");
      expect(ok.code).toBe(0);
    }
  }, 20_000);

  it("eval text with characters outside the vocabulary: scored without them, and says how many it skipped", async () => {
    const r = await runMain(["eval", "-m", run, at("unknown-chars.txt"), "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ skipped: 4 });
  });
});

describe("every numeric flag of every command refuses 0, negatives, NaN and non-numbers", () => {
  // flags whose value is free text (a path, a prime): not numbers
  const TEXT = new Set(["--out", "--resume", "--prime", "--prime-file", "--text", "--model", "--svg", "--init-from", "--config", "--like"]);
  // values that ARE valid for a flag; every other value in BAD must be refused
  const VALID: Record<string, string[]> = {
    "--embed": ["0"], "--dropout": ["0"], "--forget-bias": ["0", "-1"], "--val-frac": ["0"], "--momentum": ["0"], "--weight-decay": ["0"],
    "--clip": ["0"], "--clip-value": ["0"], "--ortho-reg": ["0"], "--warmup": ["0"], "--patience": ["0"], "--keep": ["0"], "--seed": ["0"],
    "predict --top-k": ["0"], // 0 lists the whole vocabulary (rnn sample's --top-k refuses 0)
    "diagnose --chunks": ["0"], // 0 skips the carried-state run
    "--sample-every": ["0"], // 0 = off
    "--dropout-input": ["0"], "--weight-drop": ["0"], "--embed-dropout": ["0"], "--lr-min": ["0"], // 0 = off; the cosine's floor 0
    "--ema": ["0"], // 0 = no averaging
    "--calibrate": ["0"], // 0 = no calibration split
    "eval --dynamic-decay": ["0"], // 0 = no decay toward the trained weights
    "serve --port": ["0"], // 0 = any free port
  };
  const BAD = ["0", "-1", "NaN", "abc", "", "Infinity", "1e999", "12abc"];
  const program = buildProgram();
  const flags: [string, string][] = [];
  for (const cmd of program.commands) {
    for (const opt of cmd.options) {
      if (opt.required && opt.long && !TEXT.has(opt.long)) flags.push([cmd.name(), opt.long]);
    }
  }

  const checked = new Set<string>();
  for (const [cmd, flag] of flags) {
    it(`${cmd} ${flag}`, async () => {
      // a missing corpus / model after the flag: a value that passes fails there instead, without naming the flag
      // (--momentum applies to --optimizer sgd only: with another optimizer a valid value is refused as useless; so
      // does --lr-min to --lr-schedule cosine, and eval's --dynamic-lr, --dynamic-decay, --seq to --dynamic)
      const needs: Record<string, string[]> = { "--momentum": ["--optimizer", "sgd"], "--lr-min": ["--lr-schedule", "cosine"] };
      const rest = cmd === "train" ? [MISSING, "--out", at("out", "numeric"), ...(needs[flag] ?? [])] : ["-m", MISSING, ...(cmd === "eval" ? ["--dynamic"] : [])];
      const probe = errLines((await runMain([cmd, `${flag}=abc`, ...rest])).stderr)[0] ?? "";
      // a flag that takes "abc" is not numeric (free text); a choice flag (--cell, --kernels…) is in the table above
      if (!probe.startsWith(`rnn: error: ${flag} `) || /must be one of/.test(probe)) return;
      checked.add(`${cmd} ${flag}`);
      for (const v of BAD) {
        const r = await runMain([cmd, `${flag}=${v}`, ...rest]);
        const lines = errLines(r.stderr);
        if ((VALID[`${cmd} ${flag}`] ?? VALID[flag])?.includes(v)) {
          expect(lines[0], `${flag}=${v} is valid`).not.toContain(flag);
        } else {
          expect(lines, `${flag}=${v}: ${r.stderr}`).toHaveLength(1);
          expect(lines[0], `${flag}=${v}`).toMatch(new RegExp(`^rnn: error: ${flag} (must|is too large)`));
          expect(r.code, `${flag}=${v}`).toBe(2);
        }
      }
      expect(fs.existsSync(at("out", "numeric"))).toBe(false);
    });
  }

  it("checked the numeric flags of train, sample and predict (none was mistaken for free text)", () => {
    const numeric = ["layers", "hidden", "embed", "dropout", "forget-bias", "batch", "seq", "val-frac", "lr", "momentum", "weight-decay", "clip",
      "clip-value", "ortho-reg", "lr-decay", "lr-decay-every", "warmup", "patience", "steps", "epochs", "time", "eval-every", "checkpoint-every",
      "keep", "seed", "threads", "sample-every", "sample-length", "dropout-input", "weight-drop", "embed-dropout", "lr-min"].map((f) => `train --${f}`).concat(["length", "temperature", "seed", "top-k", "top-p", "count"].map((f) => `sample --${f}`))
      .concat(["top-k", "temperature"].map((f) => `predict --${f}`)).concat(["dynamic-lr", "dynamic-decay", "seq"].map((f) => `eval --${f}`));
    for (const f of numeric) expect(checked, f).toContain(f);
  });
});

describe("the real binary exits the same way", () => {
  const SAMPLE = ["missing corpus file", "binary corpus (NUL bytes)", "corpus shorter than batch × seq + 1", "unknown --cell", "--model bit-flipped",
    "--out naming an existing run", "--prime with characters outside the vocabulary", "--temperature 0"];

  it("for a sample of the table: exit code, one line, no stack trace", async () => {
    const cases = SAMPLE.map((n) => CASES.find((c) => c.name === n)!);
    const results = await Promise.all(cases.map((c) => rnn(c.args())));
    results.forEach((r, i) => {
      const lines = errLines(r.stderr);
      expect(lines, cases[i].name).toHaveLength(1);
      expect(lines[0].slice("rnn: error: ".length)).toMatch(cases[i].line);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.code, cases[i].name).toBe(cases[i].code);
    });
  }, 30_000);

  it("a flag value commander cannot parse at all (missing) exits 2 with the problem on the first line", async () => {
    const r = await rnn(["train", corpus, "--hidden"]);
    expect(r.code).toBe(2);
    expect(errLines(r.stderr)[0]).toMatch(/option '--hidden <H>' argument missing/);
  }, 20_000);
});
