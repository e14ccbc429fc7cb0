#!/usr/bin/env node
// Pins what `rnn` writes: for a matrix of small training configurations, trains with a fixed seed on a fixed
// generated corpus, then records the sha256 of every tensor's raw data in latest.safetensors, best.safetensors
// and latest.state.safetensors, the metrics.jsonl lines, the sha256 of `rnn sample` stdout and the stdout of
// `rnn eval --json`. test/pinned_outputs.test.ts compares this checkout against test/fixtures/pinned-outputs.json.
//
// Only tensor data is hashed, never the safetensors header or its __metadata__ (the config it holds may change
// without any number changing). Everything not named in a configuration's flags is the CLI's default, so the
// defaults are pinned too.
//
//   node scripts/pin-outputs.mjs [--rnn PATH/bin/rnn.js] [--out FILE]
//
// --rnn defaults to this checkout's bin/rnn.js; without --out the JSON goes to stdout. Plain Node, no deps.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const DEFAULT_RNN = fileURLToPath(new URL("../bin/rnn.js", import.meta.url));

/** Flags every `rnn train` of the matrix gets, before the configuration's own. */
export const COMMON_TRAIN_FLAGS = ["--steps", "6", "--hidden", "16", "--batch", "4", "--seq", "8", "--eval-every", "3", "--checkpoint-every", "3", "--seed", "7"];
/** Flags every `rnn sample` gets (after --model). */
export const SAMPLE_FLAGS = ["--seed", "3", "--length", "200"];
/** Flags of the extra sample taken for configurations with `extraSample`. */
export const EXTRA_SAMPLE_FLAGS = ["--seed", "3", "--length", "200", "--temperature", "0.7", "--top-k", "5", "-n", "2"];
/** The checkpoint files whose tensors are hashed. */
export const FILES = ["latest.safetensors", "best.safetensors", "latest.state.safetensors"];

/**
 * The matrix. `flags`: the configuration's own `rnn train` flags (--threads included; the common flags are
 * added in front, --quiet at the end). `runFlags`: also given to `rnn sample` and `rnn eval`.
 * `extraSample`: also run `rnn sample` with EXTRA_SAMPLE_FLAGS.
 * @type {{ name: string, flags: string[], runFlags?: string[], extraSample?: boolean }[]}
 */
export const CONFIGS = [
  { name: "rnn-tanh-1layer-onehot", flags: ["--cell", "rnn", "--activation", "tanh", "--layers", "1", "--threads", "1"], extraSample: true },
  { name: "rnn-relu", flags: ["--cell", "rnn", "--activation", "relu", "--threads", "1"] },
  { name: "lstm-1layer", flags: ["--cell", "lstm", "--layers", "1", "--threads", "1"] },
  { name: "lstm-3layers", flags: ["--cell", "lstm", "--layers", "3", "--threads", "1"] },
  { name: "lstm-embed", flags: ["--cell", "lstm", "--embed", "8", "--threads", "1"] },
  { name: "gru-onehot", flags: ["--cell", "gru", "--threads", "1"] },
  { name: "gru-embed-2layers", flags: ["--cell", "gru", "--embed", "8", "--layers", "2", "--threads", "1"] },
  { name: "lstm-residual-3layers", flags: ["--cell", "lstm", "--residual", "--layers", "3", "--threads", "1"] },
  { name: "lstm-dropout", flags: ["--cell", "lstm", "--dropout", "0.2", "--threads", "1"] },
  { name: "rnn-sgd-momentum", flags: ["--cell", "rnn", "--optimizer", "sgd", "--momentum", "0.9", "--threads", "1"] },
  { name: "rnn-rmsprop", flags: ["--cell", "rnn", "--optimizer", "rmsprop", "--threads", "1"] },
  { name: "rnn-adagrad", flags: ["--cell", "rnn", "--optimizer", "adagrad", "--threads", "1"] },
  { name: "lstm-orthoreg-clipvalue-wd", flags: ["--cell", "lstm", "--ortho-reg", "0.01", "--clip-value", "1", "--weight-decay", "1e-4", "--threads", "1"] },
  { name: "lstm-threads2", flags: ["--cell", "lstm", "--threads", "2"] },
  { name: "gru-threads2", flags: ["--cell", "gru", "--threads", "2"] },
  { name: "lstm-kernels-ref", flags: ["--cell", "lstm", "--kernels", "ref", "--threads", "1"], runFlags: ["--kernels", "ref"] },
  { name: "lstm-init-pytorch", flags: ["--cell", "lstm", "--init", "pytorch", "--threads", "1"] },
  { name: "lstm-init-xavier-forgetbias2", flags: ["--cell", "lstm", "--init", "xavier", "--forget-bias", "2", "--threads", "1"] },
  { name: "lstm-lrdecay-warmup", flags: ["--cell", "lstm", "--lr-decay", "0.5", "--lr-decay-every", "2", "--warmup", "2", "--threads", "1"] },
  // the one configuration whose validation loss is worse at step 6 than at step 3: best.safetensors is step 3's
  { name: "lstm-lr0.1-best-at-step3", flags: ["--cell", "lstm", "--lr", "0.1", "--threads", "1"] },
];

const sha256 = (/** @type {Buffer | string} */ data) => createHash("sha256").update(data).digest("hex");

/**
 * The corpus: about 20 kB of letters, punctuation and newlines from a seeded PRNG (mulberry32, inline so that
 * no change to the project's own RNG changes the corpus), with a few é and 😀.
 */
export function corpusText() {
  let a = 20240601 >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (/** @type {number} */ n) => Math.floor(next() * n);
  const letters = "etaoinshrdlucmfwypvbgkqjxz";
  const punct = [", ", ". ", "; ", "! ", "? ", ": ", " - ", "'", ".\n", ".\n\n"];
  let s = "";
  while (Buffer.byteLength(s) < 20_000) {
    const r = next();
    if (r < 0.015) s += "é";
    else if (r < 0.02) s += "😀";
    else if (r < 0.1) s += punct[int(punct.length)];
    else if (r < 0.25) s += " ";
    else {
      const ch = letters[Math.min(int(letters.length), int(letters.length))]; // skewed towards the front
      s += next() < 0.05 ? ch.toUpperCase() : ch;
    }
  }
  return s;
}

/** Writes the corpus to dir/corpus.txt and returns its path. */
export function writeCorpus(/** @type {string} */ dir) {
  const file = path.join(dir, "corpus.txt");
  fs.writeFileSync(file, corpusText());
  return file;
}

/**
 * sha256 of each tensor's raw data bytes in a .safetensors file, by tensor name (sorted); the header and its
 * __metadata__ are not hashed.
 * @returns {Record<string, string>}
 */
export function tensorDigests(/** @type {string} */ file) {
  const buf = fs.readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString("utf8"));
  const base = 8 + headerLen;
  /** @type {Record<string, string>} */
  const out = {};
  for (const name of Object.keys(header).filter((k) => k !== "__metadata__").sort()) {
    const [begin, end] = header[name].data_offsets;
    out[name] = sha256(buf.subarray(base + begin, base + end));
  }
  return out;
}

/**
 * Runs `node RNN ...args`; resolves with its stdout bytes, rejects on a non-zero exit, a signal or output on stderr.
 * @returns {Promise<Buffer>}
 */
function run(/** @type {string} */ rnn, /** @type {string[]} */ args, timeoutMs = 300_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [rnn, ...args], {
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", RNN_DEBUG: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    /** @type {Buffer[]} */
    const out = [];
    /** @type {Buffer[]} */
    const err = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString("utf8");
      if (code !== 0 || stderr !== "")
        reject(new Error(`rnn ${args.join(" ")}: exit ${code}${signal ? ` (${signal})` : ""}${stderr ? `; stderr: ${stderr}` : ""}`));
      else resolve(Buffer.concat(out));
    });
  });
}

/**
 * @typedef {{
 *   flags: string[],
 *   tensors: Record<string, Record<string, string>>,
 *   metrics: string,
 *   sample: string,
 *   sampleExtra?: string,
 *   eval: string,
 * }} PinnedConfig
 */

/**
 * Trains one configuration of the matrix in workDir/<name> and collects its digests.
 * @param {string} rnn path of bin/rnn.js
 * @param {string} corpus path of the corpus
 * @param {string} workDir an existing directory
 * @param {{ name: string, flags: string[], runFlags?: string[], extraSample?: boolean }} config
 * @returns {Promise<PinnedConfig>}
 */
export async function runConfig(rnn, corpus, workDir, config) {
  const out = path.join(workDir, config.name);
  const runFlags = config.runFlags ?? [];
  await run(rnn, ["train", corpus, "--out", out, ...COMMON_TRAIN_FLAGS, ...config.flags, "--quiet"]);
  /** @type {Record<string, Record<string, string>>} */
  const tensors = {};
  for (const f of FILES) tensors[f] = tensorDigests(path.join(out, f));
  const metrics = fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8");
  const sample = sha256(await run(rnn, ["sample", "--model", out, ...SAMPLE_FLAGS, ...runFlags]));
  const sampleExtra = config.extraSample ? sha256(await run(rnn, ["sample", "--model", out, ...EXTRA_SAMPLE_FLAGS, ...runFlags])) : undefined;
  const evalOut = (await run(rnn, ["eval", "--model", out, "--json", ...runFlags])).toString("utf8");
  return { flags: [...config.flags], tensors, metrics, sample, ...(sampleExtra ? { sampleExtra } : {}), eval: evalOut };
}

/**
 * Runs the whole matrix, one configuration after another, in a temp dir that is removed afterwards.
 * @param {{ rnn?: string, log?: (line: string) => void }} [opts]
 * @returns {Promise<{ configs: Record<string, PinnedConfig> }>}
 */
export async function pinOutputs(opts = {}) {
  const rnn = path.resolve(opts.rnn ?? DEFAULT_RNN);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-pin-"));
  try {
    const corpus = writeCorpus(dir);
    /** @type {Record<string, PinnedConfig>} */
    const configs = {};
    for (const c of CONFIGS) {
      const t0 = Date.now();
      configs[c.name] = await runConfig(rnn, corpus, dir, c);
      opts.log?.(`${c.name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    return { configs };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const argv = process.argv.slice(2);
  /** @type {string | undefined} */
  let rnn, outFile;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--rnn" && i + 1 < argv.length) rnn = argv[++i];
    else if (argv[i] === "--out" && i + 1 < argv.length) outFile = argv[++i];
    else {
      process.stderr.write(`usage: node scripts/pin-outputs.mjs [--rnn PATH/bin/rnn.js] [--out FILE]\n`);
      process.exit(2);
    }
  }
  const result = await pinOutputs({ rnn, log: (l) => process.stderr.write(l + "\n") });
  const json = JSON.stringify(result, null, 2) + "\n";
  if (outFile) fs.writeFileSync(outFile, json);
  else process.stdout.write(json);
}
