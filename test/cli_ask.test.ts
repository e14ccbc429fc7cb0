// Asking a trained model through the real binary (issue 11): `rnn predict`, `rnn score`, `rnn info`, and
// `rnn sample`'s --top-p, --prime-file, --json and line-streamed -n, with the refusals and the bad input of
// each (one line on stderr, exit 2; exit 1 where the same problem is a run-time one elsewhere in rnn).
// Every command here is a spawned `node bin/rnn.js`; the two models are trained once, in beforeAll, in about
// a second each (one thread: the suite shares its cores).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, errLines, rnn, tempDir } from "./helpers/cli.ts";

const tmp = tempDir("cli-ask");
afterAll(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);

/** an LSTM trained on "ABC" repeated: after "ABCABCAB" it says C */
const ABC = at("abc-run");
/** an LSTM trained on short lines with spaces, tabs and newlines: a vocabulary with invisible characters */
const WS = at("ws-run");
const WS_LINES = "the cat sat.\nthe dog ran!\n\ta cat ran.\n";
/** WS's 16 characters, in vocabulary (code point) order */
const WS_VOCAB = [...new Set(WS_LINES)].sort();
const TINY = ["--hidden", "32", "--layers", "1", "--batch", "4", "--seq", "12", "--steps", "150", "--threads", "1", "-q"];

beforeAll(async () => {
  fs.writeFileSync(at("abc.txt"), "ABC".repeat(400));
  fs.writeFileSync(at("ws.txt"), WS_LINES.repeat(60));
  const [a, w] = await Promise.all([
    rnn(["train", at("abc.txt"), "--out", ABC, ...TINY]),
    rnn(["train", at("ws.txt"), "--out", WS, ...TINY]),
  ]);
  expect(a.stderr + w.stderr).toBe("");
  expect([a.code, w.code]).toEqual([0, 0]);
  // texts to score: longer than one 256-step chunk of the stream, with a character the model never saw
  fs.writeFileSync(at("score.txt"), `${WS_LINES.repeat(8)}the cat€ sat.\n${WS_LINES.repeat(8)}`);
  fs.writeFileSync(at("prime.txt"), "the dog ran!\n\ta c");
  fs.writeFileSync(at("not-a-checkpoint.safetensors"), "just some text, not a checkpoint\n");
  fs.mkdirSync(at("not-a-run"));
  fs.writeFileSync(at("not-a-run", "notes.txt"), "nothing here\n");
}, 120_000);

/** A command that must succeed: exit 0, nothing on stderr (unless it is expected), stdout returned. */
async function ok(args: string[], opts: { stderr?: boolean } = {}): Promise<CliResult> {
  const r = await rnn(args);
  if (!opts.stderr) expect(r.stderr, `rnn ${args.join(" ")}`).toBe("");
  expect(r.code, `rnn ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r;
}

const json = (r: CliResult) => JSON.parse(r.stdout);
const jsonLines = (r: CliResult) => r.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));

interface Dist {
  text: string;
  fed: string;
  context: string;
  temperature: number;
  top: { char: string; id: number; p: number }[];
  rest: { count: number; p: number; max: number };
  total: number;
  entropy: number;
  vocabSize: number;
  unknown: string[];
  skipped: number;
}

describe("rnn predict", () => {
  it('after "ABCABCAB" a model trained on "ABC" repeated says C: P(C) > 0.9 and P(A) < P(C) (--json)', async () => {
    const d: Dist = json(await ok(["predict", "--model", ABC, "ABCABCAB", "--json"]));
    const p = Object.fromEntries(d.top.map((c) => [c.char, c.p]));
    expect(Object.keys(p).sort()).toEqual(["A", "B", "C"]); // the default k = 10 lists the whole 3-character vocabulary
    expect(p.C).toBeGreaterThan(0.9);
    expect(p.A).toBeLessThan(p.C);
    expect(d.top[0].char).toBe("C");
    expect(d).toMatchObject({ text: "ABCABCAB", fed: "ABCABCAB", context: "text", temperature: 1, vocabSize: 3, unknown: [], skipped: 0 });
    expect(d.rest).toEqual({ count: 0, p: 0, max: 0 });
    expect(d.total).toBeCloseTo(1, 12);
  });

  it("prints the distribution as bars, most likely first", async () => {
    const r = await ok(["predict", "-m", ABC, "ABCABCAB"]);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe('next character after "ABCABCAB"');
    const rows = lines.slice(1, 4).map((l) => /^ {2}(\S+)\s+([\d.e-]+)\s+(█*[▏▎▍▌▋▊▉]?)$/.exec(l));
    expect(rows.every(Boolean), r.stdout).toBe(true);
    expect(rows.map((m) => m![1])).toEqual(["C", ...rows.slice(1).map((m) => m![1])]);
    expect(rows.map((m) => m![1]).sort()).toEqual(["A", "B", "C"]);
    // a full bar is 40 cells: C's is nearly full
    expect([...rows[0]![3]].length).toBeGreaterThanOrEqual(36);
    expect(Number(rows[0]![2])).toBeGreaterThan(0.9);
    expect(lines.at(-1)).toMatch(/^ {2}entropy [\d.]+ bits · 3 characters in the vocabulary$/);
  });

  it("shows invisible characters escaped (\\n, ␣ for a space, \\t), one row each", async () => {
    const r = await ok(["predict", "-m", WS, "the cat sat.", "-k", "0"]);
    expect(r.stdout).not.toContain("\t");
    const lines = r.stdout.trimEnd().split("\n");
    // header, one row per character of the vocabulary (k = 0: all of them), entropy; no "rest" row
    expect(lines).toHaveLength(1 + WS_VOCAB.length + 1);
    expect(lines[0]).toBe('next character after "the cat sat."');
    const labels = lines.slice(1, -1).map((l) => /^ {2}(\S+) /.exec(l)?.[1]);
    const escaped = WS_VOCAB.map((c) => ({ "\n": "\\n", " ": "␣", "\t": "\\t" })[c] ?? c);
    expect([...labels].sort()).toEqual([...escaped].sort());
    // --json gives the characters themselves, and the same numbers
    const d: Dist = json(await ok(["predict", "-m", WS, "the cat sat.", "-k", "0", "--json"]));
    expect(d.top.map((c) => c.char).sort()).toEqual(WS_VOCAB);
    expect(d.top.map((c) => (({ "\n": "\\n", " ": "␣", "\t": "\\t" }) as Record<string, string>)[c.char] ?? c.char)).toEqual(labels);
  });

  it("-k / --top-k K lists K and says how much the rest holds", async () => {
    const short = await ok(["predict", "-m", WS, "the c", "-k", "3"]);
    const long = await ok(["predict", "-m", WS, "the c", "--top-k", "3"]);
    expect(long.stdout).toBe(short.stdout);
    const lines = short.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1 + 3 + 2);
    expect(lines[4]).toMatch(new RegExp(`^ {2}rest\\s+[\\d.e-]+\\s+over ${WS_VOCAB.length - 3} other characters, none above [\\d.e-]+$`));
    const all: Dist = json(await ok(["predict", "-m", WS, "the c", "-k", "0", "--json"]));
    const d: Dist = json(await ok(["predict", "-m", WS, "the c", "-k", "3", "--json"]));
    expect(d.top).toEqual(all.top.slice(0, 3));
    expect(d.rest.count).toBe(WS_VOCAB.length - 3);
    expect(d.rest.p).toBeCloseTo(all.top.slice(3).reduce((s, c) => s + c.p, 0), 12);
    expect(d.rest.max).toBe(all.top[3].p);
    // the default lists 10
    const dflt: Dist = json(await ok(["predict", "-m", WS, "the c", "--json"]));
    expect(dflt.top).toHaveLength(10);
  });

  it("-t / --temperature T: p ∝ p₁^(1/T), said in the header", async () => {
    const p1: Dist = json(await ok(["predict", "-m", WS, "the d", "-k", "0", "--json"]));
    const pT: Dist = json(await ok(["predict", "-m", WS, "the d", "-k", "0", "--temperature", "0.5", "--json"]));
    expect(pT.temperature).toBe(0.5);
    const z = p1.top.reduce((s, c) => s + c.p ** 2, 0);
    const byChar = new Map(pT.top.map((c) => [c.char, c.p]));
    for (const c of p1.top) expect(byChar.get(c.char)! / (c.p ** 2 / z)).toBeCloseTo(1, 9);
    const human = await ok(["predict", "-m", WS, "the d", "-t", "0.5"]);
    expect(human.stdout.split("\n")[0]).toBe('next character after "the d" · temperature 0.5');
  });

  it("an empty TEXT asks for the first character of a line; unknown characters are left out with one warning", async () => {
    const d: Dist = json(await ok(["predict", "-m", WS, "", "--json"]));
    expect(d.context).toBe("newline");
    const r = await ok(["predict", "-m", WS, "the€ cat", "--json"], { stderr: true });
    expect(errLines(r.stderr)).toEqual([`rnn: warning: 1 character of TEXT outside the model's vocabulary left out: "€"`]);
    expect(json(r)).toMatchObject({ fed: "the cat", unknown: ["€"], skipped: 1 });
  });
});

interface CharRecord { index: number; char: string; known: boolean; surprisal: number | null }
interface Totals { nats: number; loss: number; bpc: number; perplexity: number; count: number; unknown: number; chars: number }

describe("rnn score", () => {
  it("--json: one record per character, unknown ones marked (not dropped), then the totals; the mean is rnn eval's loss", async () => {
    const text = fs.readFileSync(at("score.txt"), "utf8");
    const r = await ok(["score", "-m", WS, at("score.txt"), "--json"], { stderr: true });
    expect(errLines(r.stderr)).toEqual([`rnn: warning: 1 character outside the model's vocabulary not scored: "€"`]);
    const lines = jsonLines(r);
    const chars: CharRecord[] = lines.slice(0, -1);
    const { total }: { total: Totals } = lines.at(-1);
    // every character of the file, in order, the unknown one included
    expect(chars).toHaveLength([...text].length);
    expect(chars.map((c) => c.char).join("")).toBe(text);
    expect(chars.map((c) => c.index)).toEqual(chars.map((_, i) => i));
    const euro = chars.filter((c) => !c.known);
    expect(euro).toEqual([{ index: text.indexOf("€"), char: "€", known: false, surprisal: null }]);
    expect(chars[0].surprisal).toBeNull(); // nothing before it
    const scored = chars.filter((c) => c.surprisal !== null);
    expect(scored.every((c) => c.known && c.surprisal! >= 0)).toBe(true);
    expect(total).toMatchObject({ count: scored.length, unknown: 1, chars: chars.length });
    expect(total.nats).toBeCloseTo(scored.reduce((s, c) => s + c.surprisal!, 0), 9);
    expect(total.loss).toBeCloseTo(total.nats / total.count, 12);
    expect(total.bpc).toBeCloseTo(total.loss / Math.LN2, 12);
    expect(total.perplexity).toBeCloseTo(Math.exp(total.loss), 9);
    // rnn eval on the same file: the same stream, the same loss
    const ev = await ok(["eval", "-m", WS, at("score.txt"), "--json"], { stderr: true });
    const e = json(ev);
    expect(Math.abs(total.loss - e.loss)).toBeLessThan(1e-6);
    expect(e).toMatchObject({ chars: total.count, skipped: 1 });
  });

  it("FILE and --text: the text with unknown characters marked, the most surprising ones, the totals", async () => {
    const text = "the cat€ sat.\nthe dog ran!\n";
    fs.writeFileSync(at("short-score.txt"), text);
    const f = await ok(["score", "-m", WS, at("short-score.txt")], { stderr: true });
    const t = await ok(["score", "--model", WS, "--text", text], { stderr: true });
    for (const r of [f, t]) expect(errLines(r.stderr)).toHaveLength(1);
    // the same report; only the name of what was scored differs
    expect(t.stdout).toBe(f.stdout.replace(at("short-score.txt"), "text"));
    const lines = f.stdout.split("\n");
    expect(lines.slice(0, 3)).toEqual(["the cat⟦€⟧ sat.", "the dog ran!", "⟦ ⟧ marks characters outside the model's vocabulary (not scored)"]);
    expect(lines[3]).toBe("most surprising:");
    expect(lines.slice(4, 9).every((l) => /^ +[\d.]+ bits {2}\S+ after "/.test(l))).toBe(true);
    expect(lines[9]).toMatch(
      new RegExp(`^${at("short-score.txt").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: [\\d.]+ nats in all · [\\d.]+ nats/char · [\\d.]+ bits/char · perplexity [\\d.]+ · 25 characters scored · 1 outside the vocabulary$`),
    );
  });
});

describe("rnn info", () => {
  it("a run directory: model, vocabulary (escaped), step, losses, corpus, config, files", async () => {
    const r = await ok(["info", WS]);
    const out = r.stdout;
    expect(out.split("\n")[0]).toBe(`${path.join(WS, "latest.safetensors")} in run directory ${WS}`);
    expect(out).toMatch(/^ {2}model {7}lstm 1×32, one-hot, V=16 · [\d,]+ parameters$/m);
    expect(out).toContain(`  vocabulary  16 characters: \\t\\n␣!.acdeghnorst\n`);
    expect(out).toMatch(/^ {2}trained {5}step 150 · \d+ epochs? and \d+ chunks?$/m);
    expect(out).toMatch(/^ {2}validation {2}best [\d.]+ nats\/char \([\d.]+ bits\/char\) \(best\.safetensors: step 150\) · last [\d.]+$/m);
    expect(out).toContain(`  corpus      ${at("ws.txt")} (2.28 kB)`);
    expect(out).toMatch(/^ {2}config {6}cell=lstm layers=1 hidden=32 /m);
    for (const f of ["best.safetensors", "latest.safetensors", "latest.state.safetensors", "loss.svg", "metrics.jsonl"]) {
      expect(out).toMatch(new RegExp(`^ {4}${f.replace(/\./g, "\\.")} +[\\d.]+ k?B$`, "m"));
    }
  });

  it("--json: cell, sizes, vocabulary, step, losses, corpus, config, files", async () => {
    const d = json(await ok(["info", WS, "--json"]));
    expect(d).toMatchObject({
      path: WS, file: path.join(WS, "latest.safetensors"), runDir: WS,
      model: { cell: "lstm", layers: 1, hidden: 32, embed: 0, vocabSize: 16, description: "lstm 1×32, one-hot, V=16" },
      vocab: { size: 16, chars: WS_VOCAB },
      step: 150,
      corpus: [{ path: at("ws.txt"), bytes: WS_LINES.length * 60 }],
      config: { batch: 4, seq: 12, steps: 150, threads: 1, model: { cell: "lstm", hidden: 32 } },
    });
    // 4·H·(V + H + 2) for the LSTM layer, V·(H + 1) for the decoder
    expect(d.model.parameters).toBe(4 * 32 * (16 + 32 + 2) + 16 * 33);
    expect(d.epoch).toBeGreaterThanOrEqual(1);
    expect(d.best.step).toBe(150);
    expect(d.bestValLoss).toBe(d.best.valLoss); // the run's best is best.safetensors' loss (its end-of-run evaluation)
    expect(d.lastValLoss).toBeGreaterThan(0);
    const sizes = Object.fromEntries(fs.readdirSync(WS).map((f) => [f, fs.statSync(path.join(WS, f)).size]));
    expect(Object.fromEntries(d.files.map((f: { name: string; bytes: number }) => [f.name, f.bytes]))).toEqual(sizes);
  });

  it("a .safetensors file: in its run directory, and alone", async () => {
    const best = json(await ok(["info", path.join(WS, "best.safetensors"), "--json"]));
    expect(best).toMatchObject({ file: path.join(WS, "best.safetensors"), runDir: WS, step: 150, epoch: null });
    fs.copyFileSync(path.join(ABC, "latest.safetensors"), at("abc-copy.safetensors"));
    const lone = json(await ok(["info", at("abc-copy.safetensors"), "--json"]));
    expect(lone).toMatchObject({
      file: at("abc-copy.safetensors"), runDir: null, step: 150, vocab: { size: 3, chars: ["A", "B", "C"] },
      model: { cell: "lstm", hidden: 32 }, files: [{ name: "abc-copy.safetensors", bytes: fs.statSync(at("abc-copy.safetensors")).size }],
    });
    const human = await ok(["info", at("abc-copy.safetensors")]);
    expect(human.stdout.split("\n")[0]).toBe(at("abc-copy.safetensors"));
    expect(human.stdout).toContain("  vocabulary  3 characters: ABC\n");
  });
});

describe("rnn sample: --top-p, --prime-file, --json, -n", () => {
  const base = ["sample", "-m", WS, "--length", "300", "--seed", "5"];

  it("--top-p: the same seed gives the same text; --top-p 1 is plain sampling, byte for byte", async () => {
    const plain = await ok(base);
    const one = await ok([...base, "--top-p", "1"]);
    expect(one.stdout).toBe(plain.stdout);
    const nucleus = await ok([...base, "--top-p", "0.6"]);
    expect((await ok([...base, "--top-p", "0.6"])).stdout).toBe(nucleus.stdout);
    expect(nucleus.stdout).not.toBe(plain.stdout);
    expect(nucleus.stdout).toHaveLength(300 + 1); // the text and a closing newline
  });

  it("--json: one object per sample, {text, logprob, modelLogprob}; the nucleus is renormalised", async () => {
    const plain = jsonLines(await ok([...base, "--json"]));
    expect(plain).toHaveLength(1);
    expect(Object.keys(plain[0]).sort()).toEqual(["logprob", "modelLogprob", "text"]);
    expect(plain[0].text).toBe((await ok(base)).stdout.slice(0, -1)); // the text that streams without --json
    // plain sampling at temperature 1 draws from the model's own distribution
    expect(plain[0].logprob).toBeLessThan(0);
    expect(plain[0].logprob).toBeCloseTo(plain[0].modelLogprob, 6);
    // top-p draws from a cut, renormalised distribution: each drawn character is likelier under it
    const [nucleus] = jsonLines(await ok([...base, "--top-p", "0.6", "--json"]));
    expect(nucleus.logprob).toBeGreaterThan(nucleus.modelLogprob);
  });

  it("--prime-file FILE: as --prime with the file's text", async () => {
    const primed = await ok(["sample", "-m", WS, "--length", "80", "--prime-file", at("prime.txt")]);
    const inline = await ok(["sample", "-m", WS, "--length", "80", "--prime", fs.readFileSync(at("prime.txt"), "utf8")]);
    expect(primed.stdout).toBe(inline.stdout);
    expect(primed.stdout.startsWith("the dog ran!\n\ta c")).toBe(true);
    const [j] = jsonLines(await ok(["sample", "-m", WS, "--length", "80", "--prime-file", at("prime.txt"), "--json"]));
    expect(j.text).toBe(primed.stdout.slice(0, -1));
  });

  it("-n 3: every line of every sample as [k] line, as lines complete; --json -n 3: three objects", async () => {
    const args = ["sample", "-m", WS, "--length", "200", "--seed", "9", "-n", "3", "--prime", "the"];
    const r = await ok(args);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.every((l) => /^\[[123]\] /.test(l)), r.stdout).toBe(true);
    const samples = jsonLines(await ok([...args, "--json"]));
    expect(samples).toHaveLength(3);
    samples.forEach((s, k) => {
      expect([...s.text]).toHaveLength(3 + 200);
      expect(s.text.startsWith("the")).toBe(true);
      // every sample appears, whole: its lines joined (a final newline prints no empty line)
      const mine = lines.filter((l) => l.startsWith(`[${k + 1}] `)).map((l) => l.slice(`[${k + 1}] `.length));
      expect(mine.join("\n") + (s.text.endsWith("\n") ? "\n" : "")).toBe(s.text);
    });
    // streamed: a line of a later sample comes before the last line of the first
    const tags = lines.map((l) => l[1]);
    expect(tags.indexOf("3")).toBeLessThan(tags.lastIndexOf("1"));
  });
});

describe("bad input: one line on stderr, nothing on stdout", () => {
  const CASES: { name: string; args: () => string[]; code: 1 | 2; line: RegExp }[] = [
    // predict
    { name: "predict without --model", args: () => ["predict", "ABC"], code: 2, line: /^required option '-m, --model <path>' not specified \(see --help\)$/ },
    { name: "predict without TEXT", args: () => ["predict", "-m", ABC], code: 2, line: /^missing required argument 'text' \(see --help\)$/ },
    { name: "predict --model naming nothing", args: () => ["predict", "-m", at("nope"), "AB"], code: 2, line: /^--model '.*nope' does not exist/ },
    { name: "predict -k -1", args: () => ["predict", "-m", ABC, "AB", "-k", "-1"], code: 2, line: /^--top-k must be at least 0, got -1$/ },
    { name: "predict --top-k abc", args: () => ["predict", "-m", ABC, "AB", "--top-k", "abc"], code: 2, line: /^--top-k must be a whole number/ },
    { name: "predict --temperature 0", args: () => ["predict", "-m", ABC, "AB", "--temperature", "0"], code: 2, line: /^--temperature must be greater than 0, got 0$/ },
    { name: "predict TEXT with no known character", args: () => ["predict", "-m", ABC, "xyz"], code: 2, line: /^TEXT has no character the model knows \("x", "y", "z"\); use characters of the training text$/ },
    // score
    { name: "score without --model", args: () => ["score", at("abc.txt")], code: 2, line: /^required option '-m, --model <path>' not specified/ },
    { name: "score with FILE and --text", args: () => ["score", "-m", ABC, at("abc.txt"), "--text", "ABC"], code: 2, line: /^give a FILE or --text TEXT, not both$/ },
    { name: "score with neither FILE nor --text", args: () => ["score", "-m", ABC], code: 2, line: /^give a FILE to score, or --text TEXT/ },
    { name: "score --text too short to score", args: () => ["score", "-m", ABC, "--text", "A€"], code: 2, line: /^--text has 1 character the model knows; score needs at least 2$/ },
    { name: "score FILE missing (a run-time error, as rnn eval FILE)", args: () => ["score", "-m", ABC, at("nope.txt")], code: 1, line: /^file '.*nope\.txt' not found: check the path$/ },
    // sample
    { name: "sample --top-p 0", args: () => ["sample", "-m", ABC, "--top-p", "0"], code: 2, line: /^--top-p must be greater than 0, got 0$/ },
    { name: "sample --top-p 1.5", args: () => ["sample", "-m", ABC, "--top-p", "1.5"], code: 2, line: /^--top-p must be at most 1, got 1\.5$/ },
    { name: "sample --top-p abc", args: () => ["sample", "-m", ABC, "--top-p", "abc"], code: 2, line: /^--top-p must be a finite number, got 'abc'$/ },
    { name: "sample --prime-file missing", args: () => ["sample", "-m", ABC, "--prime-file", at("nope.txt")], code: 2, line: /^--prime-file '.*nope\.txt' not found: check the path$/ },
    { name: "sample --prime-file with characters the model never saw", args: () => ["sample", "-m", ABC, "--prime-file", at("prime.txt")], code: 2, line: /^--prime-file '.*prime\.txt' has \d+ characters the model never saw: .*; use characters of the training text$/ },
    { name: "sample --prime and --prime-file", args: () => ["sample", "-m", ABC, "--prime", "A", "--prime-file", at("abc.txt")], code: 2, line: /^--prime and --prime-file exclude each other; give one$/ },
    { name: "sample --argmax -n 3", args: () => ["sample", "-m", ABC, "--argmax", "-n", "3"], code: 2, line: /^--argmax with -n gives n identical samples/ },
    { name: "sample --argmax --temperature 0.5", args: () => ["sample", "-m", ABC, "--argmax", "--temperature", "0.5"], code: 2, line: /^--argmax ignores --temperature/ },
    { name: "sample --argmax --top-k 2", args: () => ["sample", "-m", ABC, "--argmax", "--top-k", "2"], code: 2, line: /^--argmax and --top-k exclude each other$/ },
    { name: "sample --argmax --top-p 0.9", args: () => ["sample", "-m", ABC, "--argmax", "--top-p", "0.9"], code: 2, line: /^--argmax and --top-p exclude each other$/ },
    // info
    { name: "info without RUN", args: () => ["info"], code: 2, line: /^missing required argument 'run' \(see --help\)$/ },
    { name: "info on a missing path", args: () => ["info", at("nope")], code: 2, line: /^'.*nope' does not exist: give a run directory/ },
    { name: "info on a directory that is no run", args: () => ["info", at("not-a-run")], code: 2, line: /^'.*not-a-run' is a directory without latest\.safetensors: is it a run directory of rnn train\?$/ },
    // as `rnn sample --model` on such a file: the path exists, its contents are wrong (exit 1)
    { name: "info on a file that is no checkpoint", args: () => ["info", at("not-a-checkpoint.safetensors")], code: 1, line: /not-a-checkpoint\.safetensors is not an rnn checkpoint \(safetensors\)/ },
  ];

  for (const c of CASES) {
    it(`${c.name} → exit ${c.code}`, async () => {
      const r = await rnn(c.args());
      const lines = errLines(r.stderr);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^rnn: error: /);
      expect(lines[0].slice("rnn: error: ".length)).toMatch(c.line);
      expect(r.code).toBe(c.code);
      expect(r.stdout).toBe("");
    });
  }
});
