// `rnn diagnose`: how gradients vanish or explode in a model — the decay of ‖∂L_T/∂h_{T−k}‖ back through
// one chunk, the singular values of the recurrent matrices, the share of saturated gates — and how the
// carried state behaves over many consecutive chunks (‖c_t‖ by step, loss per chunk). A table per model
// on stdout and one SVG overlaying every model's curves (the ‖c_t‖ plot below the gradient plot). Runs in float64 (the reference kernels), so the
// smallest gradients do not underflow; the numbers come from src/diagnose/diagnose.ts.
import fs from "node:fs";
import path from "node:path";
import chalk from "chalk";
import { DIAGNOSE_DEFAULTS } from "../config.ts";
import { readCorpus } from "../corpus/corpus.ts";
import { splitTrainVal } from "../corpus/batches.ts";
import { type Diagnosis, diagnose, type StateRun, stateRun } from "../diagnose/diagnose.ts";
import { RnnError, UsageError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { requireWritableTarget } from "../io/paths.ts";
import { refF64 } from "../kernels/ref.ts";
import { cellLabel, cellOf, forgetGate } from "../model/cells/index.ts";
import { linePlot, type Series, stackPlots } from "../plot/svg.ts";
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
  /** the carried-state run (null with --chunks 0) */
  states: StateRun | null;
}

export async function diagnoseCommand(file: string | undefined, flags: DiagnoseFlags): Promise<void> {
  if (typeof flags.svg === "string") requireWritableTarget(flags.svg, "--svg", { usage: true }); // before the work, not after
  const results: Result[] = [];
  for (const p of flags.model) {
    const { model, meta, path: file_ } = loadModel(p, refF64);
    const cfg = meta.config;
    const { ids, what } = file ? textIds(file, meta.vocab) : runText(cfg, meta.vocab);
    const T = flags.seq ?? cfg.seq;
    const B = flags.batch ?? DIAGNOSE_DEFAULTS.batch, chunks = flags.chunks ?? DIAGNOSE_DEFAULTS.chunks;
    const minStreams = cellOf(cfg.model).norm?.minStreams ?? 1;
    if (B < minStreams) throw new UsageError(`--batch ${B}: ${p} normalises over the streams of a step (--norm ${cfg.model.norm}); its gradients need --batch ${minStreams} or more`);
    const d = diagnose(model, ids, { T, B });
    const states = chunks > 0 ? stateRun(model, ids, { T, B, chunks }) : null;
    results.push({ label: labelOf(p, cfg), path: file_, config: cfg, what, d, states });
  }
  const svgPath = flags.svg === false ? null : flags.svg ?? defaultSvgPath(results[0].path);
  if (svgPath) writeFileAtomic(svgPath, plotOf(results), { what: "diagnose plot" });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ models: results.map((r) => ({ label: r.label, path: r.path, text: r.what, ...r.d, states: r.states })), svg: svgPath })}\n`);
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
  const fb = forgetGate(m) >= 0 && cfg.forgetBias !== null ? `, forget bias ${cfg.forgetBias}` : "";
  return `${path.basename(path.resolve(p))}: ${cellLabel(m)} ${m.layers}×${m.hidden}, init ${cfg.init}${fb}${cfg.orthoReg ? `, ortho-reg ${cfg.orthoReg}` : ""}${cfg.orthoOpt ? `, ortho-opt ${cfg.orthoOpt}` : ""}`;
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
  const grads = linePlot(series, {
    title: `gradient of the last step's loss, k steps back (T = ${T})`,
    xLabel: "k (steps back from the last)",
    yLabel: "‖∂L_T / ∂h_(T−k)‖",
    logY: true,
    width: 820,
    height: 480,
  });
  // below it, ‖c_t‖ over the carried-state run, for the models whose cell carries c
  const states: Series[] = [], every = (n: number) => Math.max(1, Math.ceil(n / 500));
  for (const r of results) {
    const cNorm = r.states?.cNorm;
    if (!cNorm) continue;
    cNorm.forEach((ys, l) => states.push({
      name: cNorm.length > 1 ? `${r.label} · layer ${l}` : r.label,
      // at most about 500 points a line (every step is in --json)
      points: ys.flatMap((v, t): [number, number][] => (t % every(ys.length) === 0 || t === ys.length - 1 ? [[t, v]] : [])),
      dashed: cNorm.length > 1 && l < cNorm.length - 1,
    }));
  }
  if (!states.length) return grads;
  const steps = Math.max(...results.map((r) => r.states?.steps ?? 0));
  return stackPlots([grads, linePlot(states, {
    title: `cell state ‖c_t‖ with the state carried over ${steps} steps (chunks of T = ${T})`,
    xLabel: "t (steps from a zero state)",
    yLabel: "‖c_t‖, mean over streams",
    logY: true,
    width: 820,
    height: 420,
  })]);
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
  if (r.config.orthoOpt) {
    // the blocks --ortho-opt keeps orthogonal: σ to 7 decimals, and how far from 1
    for (const ld of d.layers) {
      const blocks = ld.spectral.length > 1 ? ld.spectral.slice(1) : ld.spectral;
      out.push(`    layer ${ld.layer}, --ortho-opt ${r.config.orthoOpt} blocks: ${blocks.map((s) => `${s.name === "W_hh" ? "W_hh" : s.name} ${s.max.toFixed(7)} / ${s.min.toFixed(7)}`).join(" · ")} · |σ − 1| ≤ ${sci(ld.blockGap)}`);
    }
  }
  out.push(`  ${chalk.underline("saturated units")} (share of the chunk's T·B·H activations; low / high end)`);
  for (const ld of d.layers) {
    out.push(`    layer ${ld.layer}: ${ld.saturation.map((s) => `${s.name} ${pct(s.share)} (${pct(s.low)} / ${pct(s.high)})`).join(" · ")}`);
  }
  out.push(chalk.dim(`    rules: σ gates |σ−0.5|>0.49 · tanh |tanh|>0.98 · relu h=0`));
  if (r.states) out.push(...stateTable(r.states, d.T, d.B));
  out.push("");
  return out.join("\n") + "\n";
}

/** The carried-state run: ‖c_t‖ per layer and the chunk's loss at the end of every n-th chunk. */
function stateTable(s: StateRun, T: number, B: number): string[] {
  const out: string[] = [];
  out.push(`  ${chalk.underline(`the state carried over ${s.chunks} chunks`)} (${s.steps} steps × B=${B} streams, from a zero state)` +
    (s.cNorm ? `: ‖c_t‖, the L2 norm of a stream's cell state, mean over streams` : ""));
  const fmt = (v: number) => (Number.isFinite(v) ? v.toPrecision(4) : String(v));
  out.push(chalk.dim(`  ${"t".padStart(7)}  ${s.cNorm ? s.cNorm.map((_, l) => `‖c‖ layer ${l}`.padEnd(12)).join(" ") + "  " : ""}chunk loss`));
  for (const k of rowsOf(s.chunks, undefined).filter((k) => k > 0)) {
    const t = k * T;
    out.push(`  ${String(t).padStart(7)}  ${s.cNorm ? s.cNorm.map((c) => fmt(c[t]).padEnd(12)).join(" ") + "  " : ""}${s.loss[k - 1].toFixed(4)}`);
  }
  out.push(`  saturated units in the last chunk`);
  s.saturation.forEach((sat, l) => out.push(`    layer ${l}: ${sat.map((x) => `${x.name} ${pct(x.share)} (${pct(x.low)} / ${pct(x.high)})`).join(" · ")}`));
  return out;
}
