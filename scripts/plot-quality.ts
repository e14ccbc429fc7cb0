// The quality-per-CPU-minute plot of docs/quality.md: for each budgeted run, its validation loss on the
// held-out file (`rnn eval`, static, and `--dynamic`) against the wall-clock budget, with the field's anchors
// (nanoGPT's CPU recipe as a ringed point, its GPU recipe as a reference line) and, for a run that kept a
// validation split, the curve of that split over its wall time.
//
//   npx tsx scripts/plot-quality.ts OUT.svg RESULTS.json
//
// RESULTS.json (docs/quality/results.json, written by scripts/quality-curve.sh): [{ "budget": seconds, "events":
// "path of its --json log" | null (runs/, not committed: a log that is not here draws no validation curve), "static": loss,
// "dynamic": loss | null, ... }, ...]
import fs from "node:fs";
import { parseJsonObjects } from "../src/jsonl.ts";
import { linePlot, type Mark, PALETTE, type Series } from "../src/plot/svg.ts";

/** The field's anchors on the same split (nanoGPT's), from issue #13 and nanoGPT's README. The CPU recipe is a
 *  point (its loss at its time); the GPU recipe ran on other hardware, so it is a reference line across every
 *  budget. */
export const ANCHORS = [
  { label: "nanoGPT CPU recipe (4×128 transformer, 2000 iters): 1.874 in 2.2 min here", minutes: 2.2, loss: 1.874, line: false },
  { label: "nanoGPT GPU recipe (10.7M transformer, 5000 iters on an A100): 1.4697", minutes: 60, loss: 1.4697, line: true },
];

const [out, resultsFile] = process.argv.slice(2);
if (!out || !resultsFile) {
  console.error("usage: npx tsx scripts/plot-quality.ts OUT.svg RESULTS.json");
  process.exit(2);
}
interface Result { budget: number; events: string | null; static: number; dynamic: number | null }
const results = (JSON.parse(fs.readFileSync(resultsFile, "utf8")) as Result[]).sort((a, b) => a.budget - b.budget);

const series: Series[] = [];
results.forEach((r, i) => {
  const points: [number, number][] = [];
  let seconds = 0;
  const log = r.events && fs.existsSync(r.events) ? fs.readFileSync(r.events, "utf8") : "";
  for (const e of parseJsonObjects(log).objs) {
    if (e.type === "step" && typeof e.elapsed === "number") seconds = e.elapsed;
    if (e.type === "eval" && typeof e.valLoss === "number") points.push([seconds / 60, e.valLoss]);
  }
  // a run without a validation split (the budget rule's default) has no curve of its own
  if (points.length) series.push({ name: `--time ${r.budget}s: its own validation split`, color: PALETTE[(i + 2) % PALETTE.length], dashed: true, points });
});
const lastMinute = Math.max(...results.map((r) => r.budget / 60), 1);
for (const a of ANCHORS.filter((a) => a.line)) series.push({ name: a.label, color: PALETTE[3], dashed: true, markers: false, points: [[0, a.loss], [lastMinute, a.loss]] });
series.push({ name: "rnn eval on the held-out 10% (static)", color: PALETTE[0], markers: true, points: results.map((r): [number, number] => [r.budget / 60, r.static]) });
const dyn = results.filter((r) => r.dynamic !== null);
if (dyn.length) series.push({ name: "rnn eval --dynamic on the held-out 10%", color: PALETTE[4], markers: true, points: dyn.map((r): [number, number] => [r.budget / 60, r.dynamic!]) });
const marks: Mark[] = ANCHORS.filter((a) => !a.line).map((a) => ({ x: a.minutes, y: a.loss, label: a.label, color: PALETTE[1] }));
fs.writeFileSync(out, linePlot(series, {
  title: "tiny-shakespeare, nanoGPT's split: validation loss against the wall-clock budget (2 CPU cores)",
  xLabel: "wall-clock minutes", yLabel: "validation loss (nats/char)", y2: { label: "bits/char", scale: 1 / Math.LN2 },
  marks, width: 900, height: 480,
}));
console.error(`wrote ${out}`);
