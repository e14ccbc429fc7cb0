// The library (src/api.ts, `import … from "rnn"`): README's example runs as a program that imports the package
// by name; generate / predict / score give what the CLI prints for the same model, flags and seed; the
// browser-safe checkpoint decoder agrees with src/io/safetensors.ts; recycled workspaces keep a long-lived
// model's memory flat; train() makes the run `rnn train` makes.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, generateStream, loadModel, predict, score, train, type TrainEvent } from "../src/api.ts";
import { RnnError } from "../src/errors.ts";
import { decodeSafetensors } from "../src/io/safetensors.ts";
import { decodeCheckpoint } from "../src/lib/checkpoint-bytes.ts";
import { Sha256 } from "../src/lib/sha256.ts";
import { createHash } from "node:crypto";
import { rnn, tempDir } from "./helpers/cli.ts";
import { corpusSlice } from "./helpers/web.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
let tmp: { dir: string; cleanup: () => void };
let run: string;

beforeAll(async () => {
  tmp = tempDir("api");
  run = path.join(tmp.dir, "runs", "longrange-lstm");
  const r = await rnn(["train", corpusSlice(tmp.dir), "--hidden", "24", "--batch", "4", "--seq", "16", "--steps", "40", "--eval-every", "20", "--threads", "1", "--out", run, "-q"], { timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
}, 150_000);
afterAll(() => tmp?.cleanup());

describe("README's library example", () => {
  it("runs as a program that imports rnn by name, and prints what rnn sample, predict and score print", async () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const code = /<!-- library-example[^>]*-->\n```js\n([^]*?)```/.exec(readme)?.[1];
    expect(code, "README has the example block").toBeDefined();
    expect(code!.trim().split("\n").length).toBeLessThanOrEqual(10);
    // a program outside the package: rnn is found in its node_modules, as after npm install rnn
    const app = path.join(tmp.dir, "app");
    fs.mkdirSync(path.join(app, "node_modules"), { recursive: true });
    fs.mkdirSync(path.join(app, "runs"), { recursive: true });
    fs.symlinkSync(ROOT, path.join(app, "node_modules", "rnn"));
    fs.symlinkSync(run, path.join(app, "runs", "longrange-lstm"));
    fs.writeFileSync(path.join(app, "example.mjs"), code!);
    const out = spawnSync(process.execPath, ["example.mjs"], { cwd: app, encoding: "utf8", timeout: 60_000 });
    expect(out.status, out.stderr).toBe(0);

    const sample = await rnn(["sample", "-m", run, "--prime", "Sofia ", "--length", "80", "-t", "0.8", "--seed", "7"]);
    const pred = JSON.parse((await rnn(["predict", "-m", run, "Sofia speaks ", "-k", "3", "--json"])).stdout);
    const totals = JSON.parse((await rnn(["score", "-m", run, "--text", "Sofia speaks French.", "--json"])).stdout.trim().split("\n").at(-1)!).total;
    const expected = [
      `lstm 2×24, one-hot, V=${pred.vocabSize}, 40 steps`,
      sample.stdout.replace(/\n$/, ""),
      ...pred.top.map((c: { char: string; p: number }) => `${JSON.stringify(c.char)} ${c.p.toFixed(3)}`),
      `${totals.bpc.toFixed(3)} bits/char`,
    ].join("\n") + "\n";
    expect(out.stdout).toBe(expected);
  }, 120_000);
});

describe("the library gives the CLI's answers", () => {
  const CASES: [string, string[], Parameters<typeof generate>[1]][] = [
    ["defaults but length", ["--length", "120"], { length: 120 }],
    ["prime, temperature, seed", ["--prime", "Paula ", "--length", "100", "-t", "0.7", "--seed", "11"], { prime: "Paula ", length: 100, temperature: 0.7, seed: 11 }],
    ["top-k and top-p", ["--length", "100", "--top-k", "5", "--top-p", "0.9", "--seed", "3"], { length: 100, topK: 5, topP: 0.9, seed: 3 }],
    ["argmax", ["--prime", "The", "--length", "60", "--argmax"], { prime: "The", length: 60, argmax: true }],
  ];
  for (const [name, flags, opts] of CASES) {
    it(`generate = rnn sample (${name})`, async () => {
      const model = await loadModel(run);
      const cli = await rnn(["sample", "-m", run, ...flags]);
      expect(cli.code, cli.stderr).toBe(0);
      expect(generate(model, opts) + "\n").toBe(cli.stdout);
    });
  }

  it("generateStream yields the characters one by one and returns rnn sample --json's log-probabilities; it can stop early", async () => {
    const model = await loadModel(run);
    const it = generateStream(model, { prime: "Sofia ", length: 50, seed: 5 });
    const chars: string[] = [];
    let r = it.next();
    for (; !r.done; r = it.next()) chars.push(r.value);
    const cli = JSON.parse((await rnn(["sample", "-m", run, "--prime", "Sofia ", "--length", "50", "--seed", "5", "--json"])).stdout);
    expect(chars.join("")).toBe(cli.text);
    expect(chars.length).toBe(6 + 50);
    expect(r.value).toMatchObject({ text: cli.text, logprob: cli.logprob, modelLogprob: cli.modelLogprob, generated: 50 });
    const early = generateStream(model, { length: 1000 });
    early.next();
    early.next();
    expect(early.return(undefined as never).done).toBe(true);
    expect(generate(model, { length: 10 })).toBe(generate(model, { length: 10 }));
  });

  it("predict = rnn predict --json, score = rnn score --json", async () => {
    const model = await loadModel(run);
    const cli = JSON.parse((await rnn(["predict", "-m", run, "Nikos grew up in ", "-k", "0", "--json"])).stdout);
    const p = predict(model, "Nikos grew up in ", { topK: 0 });
    expect(p.top).toEqual(cli.top);
    expect(p.entropy).toBe(cli.entropy);
    const text = "Sofia moved to Trois-Rivières in Québec.\nPaula speaks Italian.";
    const lines = (await rnn(["score", "-m", run, "--text", text, "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l));
    const s = score(model, text);
    expect(s.totals).toMatchObject({ nats: lines.at(-1).total.nats, bpc: lines.at(-1).total.bpc, count: lines.at(-1).total.count });
    expect(s.chars.map((c) => c.surprisal)).toEqual(lines.slice(0, -1).map((l) => l.surprisal));
  });

  it("loadModel takes the checkpoint's bytes as well as its path, and the reference kernels", async () => {
    const bytes = fs.readFileSync(path.join(run, "latest.safetensors"));
    const a = await loadModel(run), b = await loadModel(new Uint8Array(bytes)), c = await loadModel(run, { kernels: "ref" });
    expect(b.description).toBe(a.description);
    expect(b.vocab).toEqual(a.vocab);
    expect(generate(b, { length: 200, seed: 9 })).toBe(generate(a, { length: 200, seed: 9 }));
    expect(c.kernels).toBe("ref-f32");
    expect(generate(c, { length: 20, argmax: true })).toHaveLength(20);
    await expect(loadModel(new Uint8Array(bytes.subarray(0, 100)))).rejects.toThrow(RnnError);
    await expect(loadModel(path.join(tmp.dir, "nope"))).rejects.toThrow(/does not exist/);
  });

  it("a model asked thousands of questions keeps its memory flat (workspaces are recycled)", async () => {
    const model = await loadModel(run);
    const memory = () => (model.net.ops.shared?.memory.buffer.byteLength ?? 0);
    for (let i = 0; i < 20; i++) { predict(model, "Sofia"); score(model, "Sofia speaks French. ".repeat(20)); generate(model, { length: 20 }); }
    const before = memory();
    for (let i = 0; i < 1500; i++) { predict(model, "Sofia speaks "); score(model, "Sofia speaks French. ".repeat(20)); generate(model, { length: 20, seed: i }); }
    expect(memory()).toBe(before);
  }, 120_000);
});

describe("the browser-safe checkpoint decoder (src/lib/checkpoint-bytes.ts)", () => {
  it("SHA-256 in JavaScript = node:crypto's", () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 70_001]) {
      const d = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 255);
      expect(new Sha256().update(d.subarray(0, n >> 1)).update(d.subarray(n >> 1)).hex(), `${n} bytes`).toBe(createHash("sha256").update(d).digest("hex"));
    }
  });

  it("decodes what src/io/safetensors.ts decodes, and refuses what it refuses", () => {
    const good = fs.readFileSync(path.join(run, "latest.safetensors"));
    const a = decodeCheckpoint(good, "x"), b = decodeSafetensors(good, "x");
    expect(a.metadata).toEqual(b.metadata);
    expect([...a.tensors.keys()]).toEqual([...b.tensors.keys()]);
    for (const [k, t] of b.tensors) expect(a.tensors.get(k)).toEqual(t);
    const N = Number(good.readBigUInt64LE(0));
    const bad: [string, (b: Buffer) => Buffer][] = [
      ["a flipped data byte", (x) => (x[x.length - 3] ^= 1, x)],
      ["a flipped header byte", (x) => (x[8 + N - 20] ^= 1, x)],
      ["cut short", (x) => x.subarray(0, x.length - 4)],
      ["a trailing byte", (x) => Buffer.concat([x, Buffer.from([0])])],
      ["4 bytes", (x) => x.subarray(0, 4)],
      ["not safetensors", () => Buffer.from("hello, world, this is text")],
      ["a newer format", (x) => Buffer.from(x.toString("latin1").replace('"format_version":"1"', '"format_version":"9"'), "latin1")],
    ];
    for (const [name, mangle] of bad) {
      const buf = mangle(Buffer.from(good));
      expect(() => decodeSafetensors(buf, "x"), name).toThrow(RnnError);
      expect(() => decodeCheckpoint(buf, "x"), name).toThrow(RnnError);
    }
  });
});

describe("train()", () => {
  it("trains a run as rnn train does (checkpoints, metrics.jsonl), reports events, and stops on an AbortSignal", async () => {
    const out = path.join(tmp.dir, "lib-run");
    const events: TrainEvent[] = [];
    const ctl = new AbortController();
    const end = await train({
      corpus: [corpusSlice(tmp.dir, 20_000)], out, hidden: 16, layers: 1, batch: 4, seq: 8, steps: 10_000, evalEvery: 10, threads: 1,
      onEvent: (e) => { events.push(e); if (e.type === "step" && e.step >= 25) ctl.abort(); },
      signal: ctl.signal,
    });
    expect(end.reason).toBe("interrupted");
    expect(end.step).toBe(25);
    expect(events[0].type).toBe("start");
    expect(fs.existsSync(path.join(out, "latest.safetensors"))).toBe(true);
    expect(fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").length).toBeGreaterThanOrEqual(2);
    const model = await loadModel(out);
    expect(model.step).toBe(25);
    expect(model.config.model.hidden).toBe(16);
  }, 60_000);
});
