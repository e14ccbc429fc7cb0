// Validation loss of several runs against step and against wall-clock time, from the event logs that
// `rnn train --json` prints (one JSON object per line: "step" events carry `elapsed`, "eval" events the
// validation loss). Used by the experiments in docs/remedies.md and docs/quality.md:
//
//   npx tsx scripts/plot-runs.ts OUT "TITLE" NAME=EVENTS.jsonl...
//
// writes OUT-step.svg and OUT-time.svg, and prints each run's validation loss at its evaluations as a table
// (markdown) with the wall time at which it was reached.
import fs from "node:fs";
import { parseJsonObjects } from "../src/jsonl.ts";
import { linePlot, PALETTE, type Series } from "../src/plot/svg.ts";

const [out, title, ...specs] = process.argv.slice(2);
if (!out || !title || !specs.length) {
  console.error('usage: npx tsx scripts/plot-runs.ts OUT "TITLE" NAME=EVENTS.jsonl...');
  process.exit(2);
}

interface Point { step: number; seconds: number; val: number }

/** The evaluations of one run: step, the wall time of the step before it, and the validation loss. */
function evaluations(file: string): Point[] {
  const { objs } = parseJsonObjects(fs.readFileSync(file, "utf8"));
  const points: Point[] = [];
  let seconds = 0;
  for (const e of objs) {
    if (e.type === "step" && typeof e.elapsed === "number") seconds = e.elapsed;
    if (e.type === "eval" && typeof e.valLoss === "number") points.push({ step: e.step as number, seconds, val: e.valLoss });
  }
  return points;
}

const runs = specs.map((s) => {
  const eq = s.indexOf("=");
  return { name: s.slice(0, eq), points: evaluations(s.slice(eq + 1)) };
});
const series = (x: (p: Point) => number): Series[] =>
  runs.map((r, i) => ({ name: r.name, color: PALETTE[i % PALETTE.length], points: r.points.map((p): [number, number] => [x(p), p.val]) }));
const plot = (x: (p: Point) => number, xLabel: string) => linePlot(series(x), { title, xLabel, yLabel: "validation loss (nats/char)", width: 820, height: 440 });
fs.writeFileSync(`${out}-step.svg`, plot((p) => p.step, "step"));
fs.writeFileSync(`${out}-time.svg`, plot((p) => p.seconds, "wall-clock seconds"));

const steps = [...new Set(runs.flatMap((r) => r.points.map((p) => p.step)))].sort((a, b) => a - b);
const pick = steps.filter((_, i) => steps.length <= 10 || i % Math.ceil(steps.length / 10) === Math.ceil(steps.length / 10) - 1 || i === steps.length - 1);
console.log(`| run | ${pick.map((s) => `step ${s}`).join(" | ")} | best | seconds |`);
console.log(`|---|${pick.map(() => "---").join("|")}|---|---|`);
for (const r of runs) {
  const at = (s: number) => r.points.find((p) => p.step === s)?.val;
  const best = Math.min(...r.points.map((p) => p.val));
  const last = r.points.at(-1);
  console.log(`| ${r.name} | ${pick.map((s) => (at(s) === undefined ? "" : at(s)!.toFixed(3))).join(" | ")} | **${best.toFixed(3)}** | ${last ? last.seconds.toFixed(0) : ""} |`);
}
console.error(`wrote ${out}-step.svg and ${out}-time.svg`);
