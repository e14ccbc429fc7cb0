// Training and validation loss of several runs in one plot, from their metrics.jsonl (docs/remedies.md,
// "The LSTM without forget gate"):
//
//   npx tsx experiments/nofg/plot.ts OUT.svg RUN...
//
// Validation loss solid, the mean training loss since the previous evaluation dashed, one colour per run.
import fs from "node:fs";
import path from "node:path";
import { linePlot, PALETTE, type Series } from "../../src/plot/svg.ts";

const [out, ...runs] = process.argv.slice(2);
if (!out || !runs.length) {
  console.error("usage: npx tsx experiments/nofg/plot.ts OUT.svg RUN...");
  process.exit(2);
}
const series: Series[] = [];
runs.forEach((run, i) => {
  const lines = fs.readFileSync(path.join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const name = path.basename(run);
  const color = PALETTE[i % PALETTE.length];
  series.push({ name: `${name}: validation`, color, points: lines.map((m): [number, number] => [m.step, m.valLoss ?? NaN]) });
  series.push({ name: `${name}: training`, color, dashed: true, points: lines.map((m): [number, number] => [m.step, m.trainLoss]) });
});
fs.writeFileSync(out, linePlot(series, { title: "LSTM with and without forget gate, 2×128, data/longrange.txt", xLabel: "step", yLabel: "loss (nats/char)", width: 820, height: 440 }));
console.log(`wrote ${out}`);
