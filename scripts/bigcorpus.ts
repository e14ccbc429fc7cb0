// Large-corpus check (a script, not a unit test): writes a ~200 MB UTF-8 corpus to /tmp, trains a few steps on
// it with `rnn train`, and reports the peak resident memory against the corpus size (the promise: at most 3×),
// plus whether reading it shows progress on a terminal.
//
//   npx tsx scripts/bigcorpus.ts [--mb 200] [--steps 5] [--threads N] [--keep]
//
// Peak RSS comes from /usr/bin/time -v ("Maximum resident set size"); without it, from polling VmHWM in
// /proc/PID/status. The progress check runs the read under `script` (a pseudo-terminal), where rnn prints
// "reading corpus N%".
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeRng } from "../src/rng.ts";

const BIN = fileURLToPath(new URL("../bin/rnn.js", import.meta.url));

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}
const MB = Number(arg("mb", "200"));
const STEPS = arg("steps", "5");
const THREADS = arg("threads", "");
const KEEP = process.argv.includes("--keep");
const corpus = path.join("/tmp", `rnn-bigcorpus-${MB}mb.txt`);
const out = path.join("/tmp", "rnn-bigcorpus-run");

/** Deterministic pseudo-text with a few non-ASCII letters (so the decoder sees multi-byte sequences). */
function writeCorpus(file: string, bytes: number): void {
  const words = ["the", "king", "queen", "river", "town", "sang", "every", "bird", "in", "May", "café", "naïve", "señor", "über", "—", "and", "of", "a", "to", "not"];
  const rng = makeRng(7);
  const fd = fs.openSync(file, "w");
  let written = 0;
  while (written < bytes) {
    const parts: string[] = [];
    for (let i = 0; i < 20_000; i++) parts.push(words[rng.int(words.length)] + (rng.next() < 0.1 ? ".\n" : " "));
    const buf = Buffer.from(parts.join(""), "utf8");
    const n = Math.min(buf.length, bytes - written);
    fs.writeSync(fd, buf, 0, n);
    written += n;
  }
  fs.closeSync(fd);
  // the cut may split a multi-byte character: end on a newline instead
  const fdr = fs.openSync(file, "r+");
  const tail = Buffer.alloc(64);
  fs.readSync(fdr, tail, 0, 64, bytes - 64);
  const nl = tail.lastIndexOf(0x0a);
  fs.ftruncateSync(fdr, bytes - 64 + nl + 1);
  fs.closeSync(fdr);
}

if (!fs.existsSync(corpus) || Math.abs(fs.statSync(corpus).size - MB * 1e6) > 1000) {
  process.stdout.write(`writing ${corpus} (${MB} MB)… `);
  writeCorpus(corpus, MB * 1e6);
  process.stdout.write("done\n");
}
const size = fs.statSync(corpus).size;
const trainArgs = [BIN, "train", corpus, "--out", out, "--force", "--steps", STEPS, "--val-frac", "0.0001", "--eval-every", "100000",
  "--checkpoint-every", "100000", ...(THREADS ? ["--threads", THREADS] : [])];

/** Peak RSS in bytes of `node ...args`, and its wall time. */
async function peakRss(args: string[]): Promise<{ rss: number; seconds: number; code: number | null; stdout: string; stderr: string }> {
  const t0 = performance.now();
  if (fs.existsSync("/usr/bin/time")) {
    const r = spawnSync("/usr/bin/time", ["-v", process.execPath, ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
    return { rss: m ? Number(m[1]) * 1024 : NaN, seconds: (performance.now() - t0) / 1000, code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "", hwm = 0;
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"));
      if (m) hwm = Math.max(hwm, Number(m[1]) * 1024);
    } catch {
      // exited
    }
  }, 20);
  const code = await new Promise<number | null>((res) => child.on("close", res));
  clearInterval(poll);
  return { rss: hwm, seconds: (performance.now() - t0) / 1000, code, stdout, stderr };
}

const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
const r = await peakRss([...trainArgs, "--json"]);
if (r.code !== 0) {
  process.stderr.write(`rnn train failed (${r.code}):\n${r.stderr}\n`);
  process.exit(1);
}
const start = r.stdout.split("\n").map((l) => { try { return JSON.parse(l); } catch { return null; } }).find((e) => e?.type === "start");
console.log(`corpus            ${mb(size)} (${start?.trainChars + start?.valChars} characters, V=${start?.vocab})`);
console.log(`rnn train         ${STEPS} steps, ${start?.config.threads} threads, ${start?.kernels}: ${r.seconds.toFixed(1)} s`);
console.log(`peak RSS          ${mb(r.rss)} = ${(r.rss / size).toFixed(2)}× the corpus (promise: ≤ 3×) ${r.rss <= 3 * size ? "OK" : "EXCEEDED"}`);

// progress while reading, as a terminal shows it
if (fs.existsSync("/usr/bin/script")) {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, ...trainArgs.slice(0, 5), "--force", "--steps", "1", "--val-frac", "0.0001"].map(quote).join(" ");
  const t = spawnSync("/usr/bin/script", ["-qec", cmd, "/dev/null"], { encoding: "utf8", maxBuffer: 1 << 28 });
  const pcts = [...t.stdout.matchAll(/reading corpus (\d+)%/g)].map((m) => Number(m[1]));
  console.log(`read progress     ${pcts.length ? `${pcts.length} updates on a terminal (${pcts[0]}% … ${pcts.at(-1)}%)` : "NONE shown"}`);
}
if (!KEEP) {
  fs.rmSync(corpus, { force: true });
  fs.rmSync(out, { recursive: true, force: true });
}
process.exit(r.rss <= 3 * size ? 0 : 1);
