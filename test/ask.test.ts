// Asking a trained model (issue 11): predictNext, scoreText, nucleus sampling and sample log-probabilities,
// and the predict / score / info command functions (called directly, output captured; the spawned
// end-to-end tests come once the commands are registered in main.ts).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { predictNext } from "../src/ask/predict.ts";
import { scoreText } from "../src/ask/score.ts";
import { runInfo } from "../src/ask/info.ts";
import { loadModel, saveModel } from "../src/checkpoint/checkpoint.ts";
import { EXIT, reportError } from "../src/cli/common.ts";
import { evalCommand } from "../src/cli/eval.ts";
import { infoCommand } from "../src/cli/info.ts";
import { predictCommand } from "../src/cli/predict.ts";
import { scoreCommand } from "../src/cli/score.ts";
import type { Io } from "../src/cli/show.ts";
import { ioOf, showChar, stdoutColor } from "../src/cli/show.ts";
import { resolveTrainConfig } from "../src/config.ts";
import { UsageError } from "../src/errors.ts";
import { evaluateIds } from "../src/eval/evaluate.ts";
import { encodeText } from "../src/corpus/corpus.ts";
import { refF32 } from "../src/kernels/ref.ts";
import { initParams } from "../src/model/init.ts";
import { createModel, type Model } from "../src/model/model.ts";
import { makeRng } from "../src/rng.ts";
import { sample, sampleScored, type SampleOptions } from "../src/sample/sample.ts";
import { train } from "../src/train/train.ts";

let dir: string;
/** run directory of an LSTM trained on "ABC" repeated */
let abcRun: string;
let abc: { model: Model; vocab: string[] };
/** an untrained GRU whose vocabulary has a newline, a space, a tab and letters (broad distributions) */
let wide: { model: Model; vocab: string[]; file: string };

function capture(color = false): Io & { stdout: () => string; stderr: () => string } {
  let o = "", e = "";
  return { out: (s) => void (o += s), err: (s) => void (e += s), color, stdout: () => o, stderr: () => e };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-ask-"));
  const corpus = path.join(dir, "abc.txt");
  fs.writeFileSync(corpus, "ABC".repeat(400));
  const vocab = ["A", "B", "C"];
  const ids = Uint16Array.from("ABC".repeat(400), (c) => vocab.indexOf(c));
  abcRun = path.join(dir, "abc-run");
  const cfg = resolveTrainConfig(
    { model: { cell: "lstm", layers: 1, hidden: 16, vocabSize: 3 }, batch: 4, seq: 12, valFrac: 0.1, lr: 1e-2, steps: 150, evalEvery: 50, checkpointEvery: 1000, corpus: [corpus] },
    { threads: 1, out: abcRun },
  );
  await train({ cfg, vocab, ids, kernels: refF32, onEvent: () => {} });
  const loaded = loadModel(abcRun, refF32);
  abc = { model: loaded.model, vocab: loaded.meta.vocab };

  const wv = [..."\t\n !.,?abcdefghijklmnopqrstuvwxyzé"].sort();
  const m = createModel({ cell: "gru", layers: 2, hidden: 24, embed: 8, activation: "tanh", residual: false, vocabSize: wv.length }, refF32);
  initParams(m, { init: "pytorch", forgetBias: null }, makeRng(5));
  const wcfg = resolveTrainConfig({ model: { ...m.cfg }, corpus: [] }, { threads: 1, out: path.join(dir, "wide") });
  const file = path.join(dir, "wide.safetensors");
  saveModel(file, m, { config: wcfg, vocab: wv, step: 0, bestValLoss: null });
  wide = { model: m, vocab: wv, file };
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const base: SampleOptions = { length: 200, temperature: 1, prime: "", seed: 42, argmax: false, topK: 0, count: 1 };

describe("predictNext", () => {
  it('after "ABCABCAB" a model trained on "ABC" repeated says C, with P(C) > 0.9 and P(A) < P(C)', () => {
    const r = predictNext(abc.model, abc.vocab, "ABCABCAB");
    const p = (ch: string) => r.top.find((t) => t.char === ch)!.p;
    expect(r.top[0].char).toBe("C");
    expect(p("C")).toBeGreaterThan(0.9);
    expect(p("A")).toBeLessThan(p("C"));
    expect(r.total).toBeCloseTo(1, 12);
    expect(r.rest).toEqual({ count: 0, p: 0, max: 0 });
    expect(r.context).toBe("text");
  });

  it("lists the top k, most likely first, and the rest's mass; total 1", () => {
    const r = predictNext(wide.model, wide.vocab, "the cat", { topK: 5 });
    expect(r.top).toHaveLength(5);
    for (let i = 1; i < 5; i++) expect(r.top[i].p).toBeLessThanOrEqual(r.top[i - 1].p);
    expect(r.rest.count).toBe(wide.vocab.length - 5);
    expect(r.rest.max).toBeLessThanOrEqual(r.top[4].p);
    expect(r.top.reduce((a, t) => a + t.p, 0) + r.rest.p).toBeCloseTo(1, 12);
    expect(r.total).toBeCloseTo(1, 12);
    expect(predictNext(wide.model, wide.vocab, "the cat", { topK: 0 }).top).toHaveLength(wide.vocab.length);
  });

  it("gives the probabilities sampling draws from (same feeding, same temperature)", () => {
    for (const temperature of [1, 0.6, 1.7]) {
      for (const seed of [1, 2, 3]) {
        const [s] = sampleScored(wide.model, wide.vocab, { ...base, prime: "a quiet", length: 1, temperature, seed }, () => {});
        const next = s.text.at(-1)!;
        const r = predictNext(wide.model, wide.vocab, "a quiet", { temperature, topK: 0 });
        expect(Math.log(r.top.find((t) => t.char === next)!.p)).toBeCloseTo(s.logprob, 12);
      }
    }
    // empty text: after a newline, as a sample without a prime starts
    const [s] = sampleScored(wide.model, wide.vocab, { ...base, length: 1 }, () => {});
    const r = predictNext(wide.model, wide.vocab, "", { topK: 0 });
    expect(r.context).toBe("newline");
    expect(Math.log(r.top.find((t) => t.char === s.text)!.p)).toBeCloseTo(s.logprob, 12);
    // no newline in the vocabulary: sampling draws the first character uniformly
    const u = predictNext(abc.model, abc.vocab, "");
    expect(u.context).toBe("none");
    for (const t of u.top) expect(t.p).toBeCloseTo(1 / 3, 12);
  });

  it("reports unknown characters and feeds the others", () => {
    const r = predictNext(abc.model, abc.vocab, "ABCxAByBx");
    expect(r.unknown).toEqual(["x", "y"]);
    expect(r.skipped).toBe(3);
    expect(r.fed).toBe("ABCABB");
    const same = predictNext(abc.model, abc.vocab, "ABCABB");
    expect(r.top).toEqual(same.top);
  });

  it("refuses a bad temperature or k", () => {
    expect(() => predictNext(abc.model, abc.vocab, "AB", { temperature: 0 })).toThrow(UsageError);
    expect(() => predictNext(abc.model, abc.vocab, "AB", { topK: -1 })).toThrow(UsageError);
    expect(() => predictNext(abc.model, abc.vocab, "AB", { topK: 1.5 })).toThrow(UsageError);
  });
});

describe("scoreText agrees with rnn eval", () => {
  const texts = {
    short: "the cat sat.\nthe dog ran!",
    unknown: "the ÇAT sat\tby the 🐍 river, and sang.",
    long: Array.from({ length: 40 }, (_, i) => `line ${"abcdefghij"[i % 10]} of the poem, said the ${i % 3 ? "king" : "queen"}.\n`).join(""),
  };
  for (const [name, text] of Object.entries(texts)) {
    it(`${name} text (${[...text].length} characters): mean surprisal = eval's loss within 1e-6`, () => {
      const r = scoreText(wide.model, wide.vocab, text);
      const known = encodeText(text, wide.vocab).ids.filter((i) => i >= 0);
      const e = evaluateIds(wide.model, known);
      expect(r.totals.count).toBe(e.count);
      expect(Math.abs(r.totals.loss - e.lossSum / e.count)).toBeLessThan(1e-6);
      expect(r.totals.nats).toBeCloseTo(e.lossSum, 6);
      expect(r.totals.bpc).toBeCloseTo(r.totals.loss / Math.LN2, 12);
      expect(r.totals.perplexity).toBeCloseTo(Math.exp(r.totals.loss), 9);
      expect(r.chars).toHaveLength([...text].length);
      const firstKnown = r.chars.find((c) => c.known)!;
      expect(firstKnown.surprisal).toBeNull();
      for (const c of r.chars) {
        if (!c.known) expect(c.surprisal).toBeNull();
        else if (c !== firstKnown) expect(c.surprisal).toBeGreaterThan(0);
      }
    });
  }

  it("marks unknown characters and counts them", () => {
    const r = scoreText(wide.model, wide.vocab, "ab🐍cÇd🐍");
    expect(r.totals.unknown).toBe(3);
    expect(r.unknownChars).toEqual(["🐍", "Ç"]);
    expect(r.chars.map((c) => c.known)).toEqual([true, true, false, true, false, true, false]);
    expect(r.chars.map((c) => c.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it.each(["ref", "wasm"] as const)("equals `rnn eval FILE --json` on the same file (trained ABC model and wide model, %s kernels)", async (kernels) => {
    const file = path.join(dir, "score-me.txt");
    fs.writeFileSync(file, "\uFEFF" + "ABCABCACB abc? ABCA the cab\nCAB".repeat(20));
    for (const model of [abcRun, wide.file]) {
      let out = "";
      const spy = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
      const spyErr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
      try {
        await evalCommand(file, { model, json: true, kernels });
      } finally {
        spy.mockRestore();
        spyErr.mockRestore();
      }
      const ev = JSON.parse(out);
      const io = capture();
      await scoreCommand(file, { model, json: true, kernels }, io);
      const lines = io.stdout().trim().split("\n").map((l) => JSON.parse(l));
      const total = lines.at(-1).total;
      expect(Math.abs(total.loss - ev.loss)).toBeLessThan(1e-6);
      expect(total.count).toBe(ev.chars);
      expect(total.unknown).toBe(ev.skipped);
      expect(lines).toHaveLength(total.chars + 1);
      expect(lines[0]).toMatchObject({ index: 0, char: "A", surprisal: null }); // the BOM is dropped, as eval drops it
    }
  });
});

describe("nucleus sampling and sample log-probabilities", () => {
  it("top-p = 1 and top-p = 0 are plain sampling, byte for byte", () => {
    for (const o of [base, { ...base, temperature: 0.7, topK: 5, count: 3, prime: "the " }]) {
      const plain = sample(wide.model, wide.vocab, o, () => {});
      expect(sample(wide.model, wide.vocab, { ...o, topP: 1 }, () => {})).toEqual(plain);
      expect(sample(wide.model, wide.vocab, { ...o, topP: 0 }, () => {})).toEqual(plain);
    }
  });

  it("top-p → 0 is argmax", () => {
    for (const m of [wide, abc]) {
      const prime = m === abc ? "AB" : "the ";
      const argmax = sample(m.model, m.vocab, { ...base, prime, argmax: true, count: 2 }, () => {});
      for (const seed of [1, 99]) expect(sample(m.model, m.vocab, { ...base, prime, seed, topP: 1e-9, count: 2 }, () => {})).toEqual(argmax);
    }
  });

  it("is deterministic with the seed, and changes the samples", () => {
    const o = { ...base, topP: 0.8, count: 2, length: 300 };
    const a = sample(wide.model, wide.vocab, o, () => {});
    expect(sample(wide.model, wide.vocab, o, () => {})).toEqual(a);
    expect(a).not.toEqual(sample(wide.model, wide.vocab, { ...o, topP: 0 }, () => {}));
    expect(a).not.toEqual(sample(wide.model, wide.vocab, { ...o, seed: 7 }, () => {}));
  });

  it("keeps the smallest set of most likely characters with mass ≥ p", () => {
    // each drawn character must be inside the nucleus of its step: check one step at a time via predictNext
    const p = 0.6;
    for (let seed = 0; seed < 30; seed++) {
      const [s] = sampleScored(wide.model, wide.vocab, { ...base, prime: "so the", length: 1, seed, topP: p }, () => {});
      const r = predictNext(wide.model, wide.vocab, "so the", { topK: 0 });
      let mass = 0;
      const nucleus: string[] = [];
      for (const t of r.top) {
        if (mass >= p) break;
        nucleus.push(t.char);
        mass += t.p;
      }
      const next = s.text.at(-1)!;
      expect(nucleus).toContain(next);
      expect(s.logprob).toBeCloseTo(Math.log(r.top.find((t) => t.char === next)!.p / mass), 9);
    }
  });

  it("log-probabilities: under the distribution sampled from, and under the model", () => {
    const [plain] = sampleScored(wide.model, wide.vocab, { ...base, prime: "ab" }, () => {});
    expect(plain.generated).toBe(200);
    expect(plain.logprob).toBeCloseTo(plain.modelLogprob, 9); // temperature 1, uncut: the same distribution
    expect(plain.logprob).toBeLessThan(0);
    // the model's log-probability of the sample = −(its surprisal after the prime) as scoreText measures it
    // (one character at a time vs chunks: equal up to float rounding)
    const sc = scoreText(wide.model, wide.vocab, plain.text);
    const after = sc.chars.slice(2).reduce((a, c) => a + (c.surprisal ?? 0), 0);
    expect(plain.modelLogprob).toBeCloseTo(-after, 3);
    const [nuc] = sampleScored(wide.model, wide.vocab, { ...base, topP: 0.7 }, () => {});
    expect(nuc.logprob).toBeGreaterThanOrEqual(nuc.modelLogprob); // renormalising over a subset only raises q
    const [am] = sampleScored(wide.model, wide.vocab, { ...base, argmax: true, length: 50 }, () => {});
    expect(am.logprob).toBeCloseTo(am.modelLogprob, 9); // argmax: softmax(logits / temperature), here temperature 1
    // no prime and no newline in the vocabulary: the uniform first draw counts log(1/V)
    const [u] = sampleScored(abc.model, abc.vocab, { ...base, length: 0 }, () => {});
    expect(u.generated).toBe(1);
    expect(u.logprob).toBeCloseTo(-Math.log(3), 12);
  });

  it("refuses top-p outside [0, 1]", () => {
    expect(() => sample(wide.model, wide.vocab, { ...base, topP: 1.5 }, () => {})).toThrow(UsageError);
    expect(() => sample(wide.model, wide.vocab, { ...base, topP: -0.1 }, () => {})).toThrow(UsageError);
  });
});

describe("rnn predict (command function)", () => {
  it("--json: the top k with probabilities, the rest, the total", async () => {
    const io = capture();
    await predictCommand("ABCABCAB", { model: abcRun, json: true, kernels: "ref" }, io);
    const o = JSON.parse(io.stdout());
    expect(o.top[0].char).toBe("C");
    expect(o.top[0].p).toBeGreaterThan(0.9);
    expect(o.top.find((t: { char: string }) => t.char === "A").p).toBeLessThan(o.top[0].p);
    expect(o.total).toBeCloseTo(1, 9);
    expect(o).toMatchObject({ text: "ABCABCAB", fed: "ABCABCAB", context: "text", temperature: 1, vocabSize: 3, unknown: [], skipped: 0 });
    expect(io.stderr()).toBe("");
  });

  it("a bar chart with invisible characters escaped, and the rest's mass", async () => {
    const io = capture();
    await predictCommand("hello world", { model: wide.file, topK: 0, kernels: "ref" }, io);
    const out = io.stdout();
    expect(out).toMatch(/^next character after "hello world"/);
    expect(out).not.toMatch(/\x1b\[/); // no colour when not asked
    const rows = out.split("\n").slice(1, 1 + wide.vocab.length);
    const labels = rows.map((l) => l.trim().split(/\s+/)[0]);
    expect(labels.sort()).toEqual(wide.vocab.map(showChar).sort());
    expect(labels).toContain("\\n");
    expect(labels).toContain("␣");
    expect(labels).toContain("\\t");
    expect(rows[0]).toMatch(/█|▏|▎|▍|▌|▋|▊|▉/);
    const io5 = capture();
    await predictCommand("hello world", { model: wide.file, topK: 5, temperature: 0.5, kernels: "ref" }, io5);
    expect(io5.stdout()).toMatch(/temperature 0\.5/);
    expect(io5.stdout()).toMatch(new RegExp(`rest\\s+\\S+\\s+over ${wide.vocab.length - 5} other characters`));
    const c = capture(true);
    await predictCommand("hello world", { model: wide.file, kernels: "ref" }, c);
    expect(c.stdout()).toMatch(/\x1b\[/);
  });

  it("warns about unknown characters; refuses a text with none it knows", async () => {
    const io = capture();
    await predictCommand("ABxC", { model: abcRun, json: true, kernels: "ref" }, io);
    expect(io.stderr()).toMatch(/^rnn: warning: 1 character of TEXT outside the model's vocabulary left out: "x"\n$/);
    expect(JSON.parse(io.stdout())).toMatchObject({ fed: "ABC", unknown: ["x"], skipped: 1 });
    const err = await predictCommand("xyz", { model: abcRun, kernels: "ref" }, capture()).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(oneLine(err)).toBe(EXIT.usage);
  });
});

/** reportError's exit code, checking that it printed exactly one line */
function oneLine(err: unknown): number {
  let s = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((x: string | Uint8Array) => ((s += String(x)), true));
  try {
    return reportError(err);
  } finally {
    spy.mockRestore();
    expect(s.split("\n").filter(Boolean)).toHaveLength(1);
  }
}

describe("rnn score (command function)", () => {
  it("plain output when not coloured: the text as is, unknowns marked, then the totals", async () => {
    const io = capture();
    await scoreCommand(undefined, { model: wide.file, text: "the 🐍 cat\nsat.", kernels: "ref" }, io);
    const out = io.stdout();
    expect(out).not.toMatch(/\x1b\[/);
    expect(out.startsWith("the ⟦🐍⟧ cat\nsat.\n")).toBe(true);
    expect(out).toMatch(/text: [\d.]+ nats in all · [\d.]+ nats\/char · [\d.]+ bits\/char · perplexity [\d.]+ · 12 characters scored · 1 outside the vocabulary/);
    expect(io.stderr()).toMatch(/1 character outside the model's vocabulary not scored: "🐍"/);
    const top = out.split("\n").slice(out.split("\n").indexOf("most surprising:") + 1, -2);
    expect(top).toHaveLength(5);
    const bits = top.map((l) => Number(/^\s+([\d.]+) bits  \S+ after ".*"$/.exec(l)![1]));
    for (let i = 1; i < 5; i++) expect(bits[i]).toBeLessThanOrEqual(bits[i - 1]);
  });

  it("a heat map in colour, with a legend of the steps", async () => {
    const io = capture(true);
    await scoreCommand(undefined, { model: wide.file, text: "the 🐍 cat\nsat.", kernels: "ref" }, io);
    const out = io.stdout();
    expect(out).toMatch(/\x1b\[48;5;\d+m/); // 256-colour backgrounds
    expect(out).toContain("↵");
    const legend = out.split("\n").find((l) => l.includes("surprisal, bits"))!;
    for (const step of ["<0.5", "0.5–1", "1–2", "2–4", "4–8", "≥8"]) expect(legend).toContain(step);
    expect(legend).toContain("outside the vocabulary");
    // stripped of colour, the text is still there
    expect(out.replace(/\x1b\[[\d;]*m/g, "").startsWith("the 🐍 cat↵\nsat.")).toBe(true);
  });

  it("--json: one record per character, then the totals", async () => {
    const io = capture();
    await scoreCommand(undefined, { model: abcRun, text: "ABCAB", json: true, kernels: "ref" }, io);
    const lines = io.stdout().trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(6);
    expect(lines.slice(0, 5).map((l) => l.char).join("")).toBe("ABCAB");
    expect(lines[0].surprisal).toBeNull();
    for (const l of lines.slice(1, 5)) expect(l.surprisal).toBeLessThan(0.2); // the model knows what follows
    expect(lines[5].total).toMatchObject({ count: 4, unknown: 0, chars: 5 });
  });

  it("refuses FILE and --text together, neither, and a text too short to score", async () => {
    for (const [file, flags] of [
      ["x.txt", { model: abcRun, text: "AB" }],
      [undefined, { model: abcRun }],
    ] as const) {
      const err = await scoreCommand(file, flags, capture()).catch((e) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect(oneLine(err)).toBe(EXIT.usage);
    }
    // too short a --text is a command-line mistake; too short a FILE a problem with the file, as in rnn eval
    const err = await scoreCommand(undefined, { model: abcRun, text: "A" }, capture()).catch((e) => e);
    expect(oneLine(err)).toBe(EXIT.usage);
    fs.writeFileSync(path.join(dir, "one-char.txt"), "A");
    const short = await scoreCommand(path.join(dir, "one-char.txt"), { model: abcRun }, capture()).catch((e) => e);
    expect(oneLine(short)).toBe(EXIT.runtime);
    const missing = await scoreCommand(path.join(dir, "nope.txt"), { model: abcRun }, capture()).catch((e) => e);
    expect(oneLine(missing)).toBe(EXIT.runtime);
  });
});

describe("rnn info (command function)", () => {
  it("describes a run directory: model, vocabulary, step, epoch, losses, corpus, config, files", async () => {
    const i = runInfo(abcRun);
    expect(i.model).toMatchObject({ cell: "lstm", layers: 1, hidden: 16, vocabSize: 3 });
    expect(i.model.parameters).toBe(4 * 16 * (3 + 16) + 2 * 4 * 16 + 3 * 16 + 3);
    expect(i.vocab).toEqual({ size: 3, chars: ["A", "B", "C"] });
    expect(i.step).toBe(150);
    expect(i.epoch).toBeGreaterThanOrEqual(1);
    expect(i.bestValLoss).toBeLessThan(0.5);
    expect(i.lastValLoss).not.toBeNull();
    expect(i.best!.step).toBeGreaterThan(0);
    expect(i.corpus).toEqual([{ path: path.join(dir, "abc.txt"), bytes: 1200 }]);
    expect(i.config.lr).toBe(0.01);
    const names = i.files.map((f) => f.name);
    for (const f of ["latest.safetensors", "best.safetensors", "latest.state.safetensors"]) expect(names).toContain(f);
    for (const f of i.files) expect(f.bytes).toBe(fs.statSync(path.join(abcRun, f.name)).size);

    const io = capture();
    await infoCommand(abcRun, {}, io);
    const out = io.stdout();
    expect(out).toMatch(/model\s+lstm 1×16, one-hot, V=3 · 1,395 parameters/);
    expect(out).toMatch(/vocabulary\s+3 characters: ABC/);
    expect(out).toMatch(/trained\s+step 150 · \d+ epochs and \d+ chunks?/);
    expect(out).toMatch(/latest\.safetensors\s+[\d.]+ kB/);
    const j = capture();
    await infoCommand(abcRun, { json: true }, j);
    expect(JSON.parse(j.stdout())).toEqual(JSON.parse(JSON.stringify(i)));
  });

  it("a checkpoint file outside a run directory, its vocabulary escaped", async () => {
    const i = runInfo(wide.file);
    expect(i.runDir).toBeNull();
    expect(i.epoch).toBeNull();
    expect(i.files).toEqual([{ name: "wide.safetensors", bytes: fs.statSync(wide.file).size }]);
    const io = capture();
    await infoCommand(wide.file, {}, io);
    expect(io.stdout()).toMatch(/vocabulary\s+34 characters: \\t\\n␣!,\.\?abc/);
  });

  it("refuses a path that is not a run or a checkpoint", async () => {
    for (const p of [path.join(dir, "nope"), dir]) {
      const err = await infoCommand(p, {}, capture()).catch((e) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect(oneLine(err)).toBe(EXIT.usage);
    }
    const notCkpt = await infoCommand(path.join(dir, "abc.txt"), {}, capture()).catch((e) => e);
    expect(oneLine(notCkpt)).toBe(EXIT.runtime);
  });
});

describe("output helpers", () => {
  it("escapes invisible characters", () => {
    expect(["\n", " ", "\t", "\r", "\u200b", "\u00a0", "a", "é", "🐍"].map(showChar)).toEqual(["\\n", "␣", "\\t", "\\r", "\\u{200B}", "\\u{00A0}", "a", "é", "🐍"]);
  });
  it("a command registered as .action(fn) gets commander's Command as its third argument: the process's Io then", () => {
    const io = ioOf({ name: "predict", opts: () => ({}) });
    expect(typeof io.out).toBe("function");
    const mine = capture();
    expect(ioOf(mine)).toBe(mine);
  });
  it("colour: a terminal, unless NO_COLOR; FORCE_COLOR anywhere", () => {
    expect(stdoutColor({}, true)).toBe(true);
    expect(stdoutColor({}, false)).toBe(false);
    expect(stdoutColor({ NO_COLOR: "1" }, true)).toBe(false);
    expect(stdoutColor({ FORCE_COLOR: "1" }, false)).toBe(true);
    expect(stdoutColor({ FORCE_COLOR: "0" }, true)).toBe(false);
  });
});
