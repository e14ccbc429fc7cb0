// rnn against PyTorch on the standard workloads, side by side in one run: for each round, every workload
// runs ours then PyTorch's, back to back (so both see the same machine state); the table reports the median
// over the rounds and the range of the per-round ratios. This is what BENCHMARKS.md's table comes from.
//
//   node scripts/bench-compare.mjs [--rounds 3] [--seconds 4] [--only P1,P2,...] [--python /usr/bin/python3]
//
// Needs PyTorch for the Python given (Debian: apt-get install python3-torch libopenblas0-pthread). Each
// round's line also records the load average, since the comparison only means something on a quiet machine.
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
const rounds = Number(opt("rounds", "3"));
const seconds = opt("seconds", "4");
const python = opt("python", "/usr/bin/python3");
const ids = opt("only", "P1,P2,P3,P4,S1,S2").split(",");
const TARGET = { P1: 2, P2: 1, P3: 2, P4: 1, S1: 2, S2: 5 };

function lastJson(out) {
  const line = out.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!line) throw new Error(`no JSON result in:\n${out}`);
  return JSON.parse(line);
}
const ours = (id) => lastJson(execFileSync(process.execPath, [path.join(ROOT, "bin", "rnn.js"), "bench", "--only", id, "--seconds", seconds, "--json"], { encoding: "utf8" }));
const theirs = (id) => lastJson(execFileSync(python, [path.join(ROOT, "test", "reference", "bench_torch.py"), "--only", id, "--seconds", seconds, "--json"], { encoding: "utf8" }));

const runs = Object.fromEntries(ids.map((id) => [id, { ours: [], theirs: [] }]));
for (let r = 1; r <= rounds; r++) {
  for (const id of ids) {
    const a = ours(id), b = theirs(id);
    runs[id].ours.push(a);
    runs[id].theirs.push(b);
    runs[id].note = a.note;
    console.error(`round ${r} ${id}: rnn ${a.charsPerSec.toFixed(0)} chars/s, PyTorch ${b.charsPerSec.toFixed(0)} chars/s (${(a.charsPerSec / b.charsPerSec).toFixed(2)}×); load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  }
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const k = (x) => (x >= 1000 ? `${(x / 1000).toFixed(x >= 100000 ? 0 : x >= 10000 ? 1 : 2)}k` : x.toFixed(0));
const ms = (x) => (x >= 10 ? x.toFixed(1) : x.toFixed(3));
console.log(`| id | workload | rnn chars/s | PyTorch chars/s | ratio (per-round range) | rnn ms/step | PyTorch ms/step | rnn GFLOP/s | PyTorch GFLOP/s | target | met |`);
console.log(`|----|----------|------------:|----------------:|------:|------------:|----------------:|------------:|----------------:|:------:|:---:|`);
for (const id of ids) {
  const { ours: a, theirs: b, note } = runs[id];
  const ca = median(a.map((x) => x.charsPerSec)), cb = median(b.map((x) => x.charsPerSec));
  const ratios = a.map((x, i) => x.charsPerSec / b[i].charsPerSec);
  const ratio = ca / cb;
  const target = TARGET[id];
  console.log(
    `| ${id} | ${note} | ${k(ca)} | ${k(cb)} | **${ratio.toFixed(2)}×** (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) | ` +
      `${ms(median(a.map((x) => x.msPerStep)))} | ${ms(median(b.map((x) => x.msPerStep)))} | ${median(a.map((x) => x.gflops)).toFixed(1)} | ` +
      `${median(b.map((x) => x.gflops)).toFixed(1)} | ≥ ${target}× | ${ratio >= target ? "yes" : "no"} |`,
  );
}
console.log(`\nPer-round chars/s (rnn / PyTorch): ${ids.map((id) => `${id} ${runs[id].ours.map((x) => x.charsPerSec.toFixed(0)).join(" / ")} vs ${runs[id].theirs.map((x) => x.charsPerSec.toFixed(0)).join(" / ")}`).join("; ")}.`);
console.log(`Peak RSS (maxRssBytes, last round): ${ids.map((id) => `${id} rnn ${(runs[id].ours.at(-1).maxRssBytes / 2 ** 20).toFixed(0)} MiB vs PyTorch ${(runs[id].theirs.at(-1).maxRssBytes / 2 ** 20).toFixed(0)} MiB`).join("; ")}.`);
