// `rnn diagnose`: how gradients vanish or explode in a model — the decay of ‖∂L_T/∂h_{T−k}‖ back through
// one chunk, the singular values of the recurrent matrices, the share of saturated gates. A table per model
// on stdout and one SVG plot overlaying every model's curves. Runs in float64 (the reference kernels), so the
// smallest gradients do not underflow; the numbers come from src/diagnose/diagnose.ts.
import fs from "node:fs";
import path from "node:path";
import chalk from "chalk";
import { DIAGNOSE_DEFAULTS } from "../config.ts";
import { readCorpus } from "../corpus/corpus.ts";
import { splitTrainVal } from "../corpus/batches.ts";
import { type Diagnosis, diagnose } from "../diagnose/diagnose.ts";
import { RnnError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { requireWritableTarget } from "../io/paths.ts";
import { refF64 } from "../kernels/ref.ts";
import { cellLabel, forgetGate } from "../model/cells/index.ts";
import { linePlot, type Series } from "../plot/svg.ts";
import { type CheckpointConfig, describeModel, loadModel } from "../checkpoint/checkpoint.ts";
import { textIds } from "./eval.ts";
import type { FlagsOf } from "./options.ts";

/** The flags of `rnn diagnose`, as declared in options.ts (svg: a path, or false for --no-svg). */
export type DiagnoseFlags = FlagsOf<"diagnose">;

interface Result {
  label: string;
  path: string;
  config: CheckpointConfig;
  what: string;
  d: Diagnosis;
}

export async function diagnoseCommand(file: string | undefined, flags: DiagnoseFlags): Promise<void> {
  if (typeof flags.svg === "string") requireWritableTarget(flags.svg, "--svg", { usage: true }); // before the work, not after
  const results: Result[] = [];
  for (const p of flags.model) {
    const { model, meta, path: file_ } = loadModel(p, refF64);
    const cfg = meta.config;
    const { ids, what } = file ? textIds(file, meta.vocab) : runText(cfg, meta.vocab);
    const T = flags.seq ?? cfg.seq;
    const d = diagnose(model, ids, { T, B: flags.batch ?? DIAGNOSE_DEFAULTS.batch });
    results.push({ label: labelOf(p, cfg), path: file_, config: cfg, what, d });
  }
  const svgPath = flags.svg === false ? null : flags.svg ?? defaultSvgPath(results[0].path);
  if (svgPath) writeFileAtomic(svgPath, plotOf(results), { what: "diagnose plot" });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ models: results.map((r) => ({ label: r.label, path: r.path, text: r.what, ...r.d })), svg: svgPath })}\n`);
    return;
  }
  for (const r of results) process.stdout.write(table(r, flags.every));
  if (svgPath) process.stdout.write(`plot: ${chalk.bold(svgPath)}\n`);
}

/** Without FILE: the run's validation split (its training text when it has none), in the model's ids. */
function runText(cfg: CheckpointConfig, vocab: string[]): { ids: Int32Array; what: string } {
  const missing = cfg.corpus.filter((p) => !fs.existsSync(p));
  if (missing.length) throw new RnnError(`the run's corpus ${missing.join(", ")} is gone; give a FILE: rnn diagnose --model RUN FILE`);
  const c = readCorpus(cfg.corpus);
  const part = cfg.valFrac > 0 ? splitTrainVal(c.ids, cfg.valFrac).val : c.ids;
  const index = new Map(vocab.map((ch, i) => [ch, i]));
  const ids = Int32Array.from(part, (i) => index.get(c.vocab[i]) ?? -1);
  if (ids.some((i) => i < 0)) throw new RnnError(`the run's corpus has changed since training (new characters); give a FILE`);
  return { ids, what: `${cfg.valFrac > 0 ? "validation split of " : ""}${cfg.corpus.map((p) => path.basename(p)).join(", ")}` };
}

function labelOf(p: string, cfg: CheckpointConfig): string {
  const m = cfg.model;
  const fb = forgetGate(m.cell) >= 0 && cfg.forgetBias !== null ? `, forget bias ${cfg.forgetBias}` : "";
  return `${path.basename(path.resolve(p))}: ${cellLabel(m)} ${m.layers}×${m.hidden}, init ${cfg.init}${fb}${cfg.orthoReg ? `, ortho-reg ${cfg.orthoReg}` : ""}`;
}

function defaultSvgPath(modelFile: string): string {
  const dir = path.dirname(modelFile);
  const base = path.basename(modelFile);
  return base === "latest.safetensors" ? path.join(dir, "diagnose.svg") : path.join(dir, base.replace(/\.safetensors$/, "") + ".diagnose.svg");
}

export function plotOf(results: Result[]): string {
  const series: Series[] = [];
  for (const r of results) {
    const L = r.d.layers.length;
    for (const ld of r.d.layers) {
      series.push({
        name: L > 1 ? `${r.label} · layer ${ld.layer}` : r.label,
        points: ld.gradNorm.map((v, k): [number, number] => [k, v]),
        dashed: L > 1 && ld.layer < L - 1,
      });
    }
  }
  const T = Math.max(...results.map((r) => r.d.T));
  return linePlot(series, {
    title: `gradient of the last step's loss, k steps back (T = ${T})`,
    xLabel: "k (steps back from the last)",
    yLabel: "‖∂L_T / ∂h_(T−k)‖",
    logY: true,
    width: 820,
    height: 480,
  });
}

const sci = (v: number) => (Number.isFinite(v) ? v.toExponential(2) : String(v));
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/** Rows at k = 0, every n, and T (n: --every, else 1, 2, 5, 10… so that about 20 rows show). */
function rowsOf(T: number, every?: number): number[] {
  let n = every ?? 1;
  if (every === undefined) for (const c of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]) { n = c; if (T / c <= 20) break; }
  const ks: number[] = [];
  for (let k = 0; k <= T; k += n) ks.push(k);
  if (ks[ks.length - 1] !== T) ks.push(T);
  return ks;
}

function table(r: Result, every?: number): string {
  const { d } = r;
  const L = d.layers.length, top = d.layers[L - 1];
  const out: string[] = [];
  out.push(`${chalk.bold(r.label)}  (${describeModel(r.config.model)})`);
  out.push(chalk.dim(`  one chunk of T=${d.T} steps × B=${d.B} streams of ${r.what}, from a zero state · last-step loss ${d.lastLoss.toFixed(4)} nats`));
  out.push(`  ${chalk.underline("‖∂L_T/∂h_(T−k)‖")}, the gradient of the last step's loss k steps back${L > 1 ? " (per layer)" : ""}`);
  // bar: log scale, the same for every model (3 █ per decade of ‖·‖ / its k=0 value, 12 decades)
  const bar = (ratio: number) => {
    if (!(ratio > 0) || !Number.isFinite(ratio)) return "";
    return "█".repeat(Math.max(0, Math.min(40, Math.round(3 * (12 + Math.log10(ratio))))));
  };
  out.push(chalk.dim(`  ${"k".padStart(5)}  ${d.layers.map((ld) => `layer ${ld.layer}`.padEnd(10)).join(" ")}  ${(L > 1 ? "top ÷ k=0" : "÷ k=0").padEnd(10)} log scale, 3 █ per decade`));
  for (const k of rowsOf(d.T, every)) {
    const ratio = top.gradNorm[k] / top.gradNorm[0];
    out.push(`  ${String(k).padStart(5)}  ${d.layers.map((ld) => sci(ld.gradNorm[k]).padEnd(10)).join(" ")}  ${sci(ratio).padEnd(10)} ${chalk.cyan(bar(ratio))}`);
  }
  for (const ld of d.layers) {
    const trend = ld.decayPerStep < 1 ? "vanishing" : "exploding";
    out.push(`  layer ${ld.layer}: ×${ld.decayPerStep.toFixed(4)} per step back (${trend}; exponential fit over k=1…${d.T}, r² ${ld.r2.toFixed(3)}) · ` +
      `k=${d.T} / k=1: ${sci(ld.gradNorm[d.T] / ld.gradNorm[1])}`);
  }
  out.push(`  ${chalk.underline("singular values σmax / σmin of the recurrent matrices")}`);
  for (const ld of d.layers) {
    out.push(`    layer ${ld.layer}: ${ld.spectral.map((s) => `${s.name === "W_hh" ? "W_hh" : `${s.name} block`} ${s.max.toFixed(3)} / ${s.min.toFixed(3)}`).join(" · ")}`);
  }
  out.push(`  ${chalk.underline("saturated units")} (share of the chunk's T·B·H activations; low / high end)`);
  for (const ld of d.layers) {
    out.push(`    layer ${ld.layer}: ${ld.saturation.map((s) => `${s.name} ${pct(s.share)} (${pct(s.low)} / ${pct(s.high)})`).join(" · ")}`);
  }
  out.push(chalk.dim(`    rules: σ gates |σ−0.5|>0.49 · tanh |tanh|>0.98 · relu h=0`));
  out.push("");
  return out.join("\n") + "\n";
}
