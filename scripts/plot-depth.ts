// The gradient by depth, from `rnn diagnose --json` on several models: ‖∂L_T/∂h_t‖ of each layer at the
// last step (k = 0) and k steps back, one line per model, layer on the x axis. Used by docs/remedies.md's
// deep-stack experiment (experiments/deepstack/run.sh):
//
//   npx tsx scripts/plot-depth.ts OUT.svg "TITLE" DIAGNOSE.json [K]
//
// DIAGNOSE.json is one `rnn diagnose -m A -m B … --json` (its models are the lines; a label's text before
// the first ':' names the line); K (default 25) is the second panel's steps back. Prints the numbers as a
// markdown table.
import fs from "node:fs";
import { linePlot, PALETTE, type Series, stackPlots } from "../src/plot/svg.ts";

const [out, title, file, kArg] = process.argv.slice(2);
if (!out || !title || !file) {
  console.error('usage: npx tsx scripts/plot-depth.ts OUT.svg "TITLE" DIAGNOSE.json [K]');
  process.exit(2);
}
const K = Number(kArg ?? 25);

interface Diagnosed { label: string; layers: { layer: number; gradNorm: number[] }[] }
const models = (JSON.parse(fs.readFileSync(file, "utf8")) as { models: Diagnosed[] }).models;
const nameOf = (m: Diagnosed) => m.label.split(":")[0];

/** ‖∂L_T/∂h_(T−k)‖ of every layer of one model: [layer, norm] */
const byLayer = (m: Diagnosed, k: number): [number, number][] => m.layers.map((l) => [l.layer, l.gradNorm[k] ?? NaN]);
const panel = (k: number, what: string) => {
  const series: Series[] = models.map((m, i) => ({ name: nameOf(m), color: PALETTE[i % PALETTE.length], points: byLayer(m, k) }));
  return linePlot(series, { title: `${title}: ${what}`, xLabel: "layer (0 = nearest the input)", yLabel: `‖∂L_T / ∂h_(T−${k})‖`, logY: true, width: 820, height: 360 });
};
fs.writeFileSync(out, stackPlots([panel(0, "the last step (k = 0)"), panel(K, `${K} steps back`)]));

const L = Math.max(...models.map((m) => m.layers.length));
console.log(`| model | k | ${Array.from({ length: L }, (_, l) => `layer ${l}`).join(" | ")} |`);
console.log(`|---|--:|${Array.from({ length: L }, () => "--:").join("|")}|`);
for (const m of models) for (const k of [0, K]) console.log(`| ${nameOf(m)} | ${k} | ${byLayer(m, k).map(([, v]) => v.toExponential(1)).join(" | ")} |`);
console.error(`wrote ${out}`);
