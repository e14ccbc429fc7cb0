// The plain RNN on the recall task (experiments/longrange/recall.ts: a key, blanks, a marker, the key again),
// with the remedies that act on W_hh: PyTorch's init, orthogonal init, --ortho-reg, --ortho-opt cayley
// (docs/remedies.md, "--ortho-opt cayley on a recall task"). A script, not a test: it trains the runs one
// after the other (the same corpus, steps, batch, seed, learning rate and one thread each) and, at every
// evaluation, measures on the validation split
//   * the recall loss: the mean cross-entropy of the recall characters (the key after the marker), overall
//     and by how far back the key is (≤ 20, 21–40, 41+ characters); the memoryless floor is ln 8 = 2.079 nats,
//   * σmax and σmin of W_hh (float64, src/diagnose/diagnose.ts's singularValues),
// into DIR/<name>/recall.jsonl (each run directory is a normal rnn run: checkpoints, metrics.jsonl), then
// writes DIR/table.md and the plots.
//
//   npx tsx experiments/longrange/cayley.ts [--only name,...] [--steps N] [--out DIR] [--plots DIR] [--force] [--plot-only]
//                                           [--min-gap G] [--max-gap G] [--lr R] [--seed S]
//
//   defaults: --steps 3000 --out runs/cayley-recall --plots docs/remedies --min-gap 48 --max-gap 48 (the key 50
//   characters back, every time) --lr 2e-3 --seed 1. A run whose DIR/<name>/recall.json
//   records the same settings is not retrained (--force retrains it). --plot-only: table and plots from what
//   DIR holds. The corpus (DIR/recall-<min>-<max>.txt, 1,000,000 characters) is generated when missing
//   (deterministic). Plots are written when every default run was asked for (no --only) or with --plot-only.
//   Each run is also the command printed before it: `rnn train DIR/recall-….txt …` gives the same model.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { resolveTrainConfig, type TrainConfig } from "../../src/config.ts";
import { splitTrainVal } from "../../src/corpus/batches.ts";
import { readCorpus } from "../../src/corpus/corpus.ts";
import { singularValues } from "../../src/diagnose/diagnose.ts";
import { createEvaluator } from "../../src/eval/evaluate.ts";
import { selectKernels } from "../../src/kernels/index.ts";
import type { Model } from "../../src/model/model.ts";
import { linePlot, PALETTE, type Series } from "../../src/plot/svg.ts";
import { isRunFile } from "../../src/run/dir.ts";
import { metricsWriter } from "../../src/train/metrics.ts";
import { train } from "../../src/train/train.ts";
import { generateRecall, KEYS, recallPositions } from "./recall.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
};
const STEPS = Number(arg("steps", "3000"));
const OUT = path.resolve(arg("out", path.join(ROOT, "runs", "cayley-recall")));
const PLOTS = path.resolve(arg("plots", path.join(ROOT, "docs", "remedies")));
const ONLY = arg("only", "").split(",").map((s) => s.trim()).filter(Boolean);
const FORCE = process.argv.includes("--force"), PLOT_ONLY = process.argv.includes("--plot-only");

// ---- the runs: a plain tanh RNN 1×128, everything the same but what acts on W_hh -------------------------------

interface RunSpec {
  name: string;
  label: string;
  init: TrainConfig["init"];
  orthoReg?: number;
  orthoOpt?: "cayley";
  color: string;
  /** not in the default set (run with --only) */
  extra?: boolean;
}
const RUNS: RunSpec[] = [
  { name: "pytorch", label: "--init pytorch", init: "pytorch", color: PALETTE[0] },
  { name: "orthogonal", label: "--init orthogonal", init: "orthogonal", color: PALETTE[1] },
  { name: "ortho-reg", label: "--init orthogonal --ortho-reg 0.01", init: "orthogonal", orthoReg: 0.01, color: PALETTE[2] },
  { name: "cayley", label: "--ortho-opt cayley (--init orthogonal)", init: "orthogonal", orthoOpt: "cayley", color: PALETTE[3] },
  { name: "cayley-pytorch", label: "--ortho-opt cayley --init pytorch", init: "pytorch", orthoOpt: "cayley", color: PALETTE[4], extra: true },
];
const COMMON = { hidden: 128, batch: 32, seq: 128, lr: Number(arg("lr", "2e-3")), clip: 5, evalEvery: 100, seed: Number(arg("seed", "1")), valFrac: 0.05 };
/** the corpus: gaps of minGap–maxGap blanks, so the key is gap + 2 characters back from its recall */
const GAPS = { minGap: Number(arg("min-gap", "48")), maxGap: Number(arg("max-gap", "48")) };
/** distance key → recall, [lo, hi) characters (gap + 2): up to 20 back, and beyond */
const BUCKETS: [number, number][] = [[0, 21], [21, 41], [41, 1000]];

// ---- corpus and masks ------------------------------------------------------------------------------------------

const CORPUS = path.join(OUT, `recall-${GAPS.minGap}-${GAPS.maxGap}.txt`);
fs.mkdirSync(OUT, { recursive: true });
if (!fs.existsSync(CORPUS)) {
  // atomically: two processes of this script may start together
  const tmp = `${CORPUS}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, generateRecall(GAPS));
  fs.renameSync(tmp, CORPUS);
}
const corpus = readCorpus([CORPUS]);
const text = fs.readFileSync(CORPUS, "utf8");
const { val } = splitTrainVal(corpus.ids, COMMON.valFrac);
const cut = corpus.ids.length - val.length;
const recalls = recallPositions(text).filter((r) => r.at > cut); // the first character of val is never scored
const mask = (keep: (d: number) => boolean) => {
  const m = new Uint8Array(val.length);
  for (const r of recalls) if (keep(r.distance)) m[r.at - cut] = 1;
  return m;
};
const MASKS: Record<string, Uint8Array> = { all: mask(() => true), ...Object.fromEntries(BUCKETS.map(([lo, hi]) => [`${lo}-${hi - 1}`, mask((d) => d >= lo && d < hi)])) };
const FLOOR = Math.log(KEYS.length);

interface Point {
  step: number;
  valLoss: number | null;
  /** mean loss of the recall characters: all, and per distance bucket */
  recall: Record<string, number>;
  sigmaMax: number;
  sigmaMin: number;
}

function measure(model: Model, evaluate: ReturnType<typeof createEvaluator>, step: number, valLoss: number | null): Point {
  const recall: Record<string, number> = {};
  for (const [k, m] of Object.entries(MASKS)) {
    const r = evaluate(val, m);
    recall[k] = r.count ? r.lossSum / r.count : NaN;
  }
  const H = model.cfg.hidden;
  const sv = singularValues(model.layers[0].whh, H, H);
  return { step, valLoss, recall, sigmaMax: sv[0], sigmaMin: sv[H - 1] };
}

// ---- one run ---------------------------------------------------------------------------------------------------

function commandOf(r: RunSpec): string {
  const c = COMMON;
  return `rnn train ${path.relative(process.cwd(), CORPUS)} --out ${path.relative(process.cwd(), path.join(OUT, r.name))} --cell rnn --layers 1 --hidden ${c.hidden} ` +
    `--batch ${c.batch} --seq ${c.seq} --lr ${c.lr} --clip ${c.clip} --init ${r.init}${r.orthoReg ? ` --ortho-reg ${r.orthoReg}` : ""}` +
    `${r.orthoOpt ? ` --ortho-opt ${r.orthoOpt}` : ""} --steps ${STEPS} --eval-every ${c.evalEvery} --seed ${c.seed} --threads 1`;
}

interface Result { name: string; settings: string; seconds: number; points: Point[]; diverged: string | null }

async function runOne(r: RunSpec): Promise<Result> {
  const dir = path.join(OUT, r.name), saved = path.join(dir, "recall.json");
  const settings = JSON.stringify({ command: commandOf(r), chars: corpus.ids.length });
  if (!FORCE && fs.existsSync(saved)) {
    const prev = JSON.parse(fs.readFileSync(saved, "utf8")) as Result;
    if (prev.settings === settings) return prev;
  }
  if (fs.existsSync(dir)) for (const f of fs.readdirSync(dir)) if (isRunFile(f) || f.startsWith("recall.")) fs.rmSync(path.join(dir, f), { force: true });
  const cfg = resolveTrainConfig(
    {
      model: { cell: "rnn", layers: 1, hidden: COMMON.hidden, embed: 0, activation: "tanh", residual: false, vocabSize: corpus.vocab.length },
      corpus: [CORPUS], batch: COMMON.batch, seq: COMMON.seq, valFrac: COMMON.valFrac, lr: COMMON.lr, clip: COMMON.clip, init: r.init,
      orthoReg: r.orthoReg ?? 0, ...(r.orthoOpt ? { orthoOpt: r.orthoOpt } : {}), steps: STEPS, evalEvery: COMMON.evalEvery, seed: COMMON.seed, threads: 1,
    },
    { threads: 1, out: dir },
  );
  log(`${r.name}: ${commandOf(r)}`);
  const ops = await selectKernels();
  const metrics = metricsWriter(dir);
  const points: Point[] = [];
  let evaluate: ReturnType<typeof createEvaluator> | null = null, measuring = 0, diverged: string | null = null;
  const t0 = performance.now();
  const record = (model: Model, step: number, valLoss: number | null) => {
    const m0 = performance.now();
    evaluate ??= createEvaluator(model);
    const p = measure(model, evaluate, step, valLoss);
    points.push(p);
    measuring += performance.now() - m0;
    log(`  ${r.name} step ${step}: val ${valLoss?.toFixed(4) ?? "–"} · recall ${p.recall.all.toFixed(3)} (${BUCKETS.map(([lo, hi]) => p.recall[`${lo}-${hi - 1}`].toFixed(3)).join(" / ")}) · σ ${p.sigmaMax.toFixed(4)} / ${p.sigmaMin.toFixed(4)}`);
  };
  try {
    await train({
      cfg, vocab: corpus.vocab, ids: corpus.ids, kernels: ops,
      onEvent: (e, model) => {
        metrics(e);
        if (e.type === "start") record(model, 0, null);
        // the cadence's evaluations (the run's last one is repeated by the end-of-run validation: skip it)
        if (e.type === "eval" && points.at(-1)?.step !== e.step) record(model, e.step, e.valLoss);
      },
    });
  } catch (e) {
    diverged = (e as Error).message;
    log(`  ${r.name}: ${diverged}`);
  }
  const res: Result = { name: r.name, settings, seconds: (performance.now() - t0 - measuring) / 1000, points, diverged };
  fs.writeFileSync(saved, JSON.stringify(res, null, 1) + "\n");
  fs.writeFileSync(path.join(dir, "recall.jsonl"), points.map((p) => JSON.stringify(p)).join("\n") + "\n");
  return res;
}

// ---- report ----------------------------------------------------------------------------------------------------

function log(s: string): void {
  process.stdout.write(s + "\n");
}

function table(results: Result[]): string {
  const at = (r: Result, step: number) => r.points.find((p) => p.step === step);
  const steps = [500, 1000, 2000, STEPS].filter((s, i, a) => s <= STEPS && a.indexOf(s) === i);
  // the distance buckets the corpus has recalls in (one gap: none worth a column)
  const buckets = BUCKETS.map(([lo, hi]) => `${lo}-${hi - 1}`).filter((k) => MASKS[k].some((v) => v));
  const byDistance = buckets.length > 1 ? ` recall by distance ${buckets.map((k) => k.replace(/-999$/, "+").replace("-", "–")).join(" / ")} @${STEPS} |` : "";
  const rows = [
    `| run | ${steps.map((s) => `recall @${s}`).join(" | ")} |${byDistance} val loss @${STEPS} | σmax / σmin of W_hh @${STEPS} | time |`,
    `|---|${steps.map(() => "--:").join("|")}|${byDistance ? "--:|" : ""}--:|--:|--:|`,
  ];
  for (const r of results) {
    const spec = RUNS.find((x) => x.name === r.name)!, last = at(r, STEPS) ?? r.points.at(-1)!;
    const f = (v: number | undefined | null) => (v === undefined || v === null || !Number.isFinite(v) ? "—" : v.toFixed(3));
    rows.push(`| ${spec.label}${r.diverged ? " (diverged)" : ""} | ${steps.map((s) => f(at(r, s)?.recall.all)).join(" | ")} |` +
      `${byDistance ? ` ${buckets.map((k) => f(last.recall[k])).join(" / ")} |` : ""} ${f(last.valLoss)} | ` +
      `${last.sigmaMax.toFixed(3)} / ${last.sigmaMin.toFixed(3)} | ${Math.round(r.seconds)} s |`);
  }
  return `${rows.join("\n")}\n\nRecall loss: nats per recall character on the validation split (${recalls.length} of them); ` +
    `memoryless floor ln ${KEYS.length} = ${FLOOR.toFixed(3)}.\n`;
}

function plots(results: Result[]): string[] {
  fs.mkdirSync(PLOTS, { recursive: true });
  const spec = (r: Result) => RUNS.find((x) => x.name === r.name)!;
  const xLabel = `step (B${COMMON.batch} × T${COMMON.seq})`;
  const recallSeries: Series[] = results.map((r) => ({ name: spec(r).label, color: spec(r).color, markers: false,
    points: r.points.map((p): [number, number] => [p.step, p.recall.all]) }));
  recallSeries.push({ name: `memoryless floor (ln ${KEYS.length} = ${FLOOR.toFixed(2)})`, color: "#777", dashed: true, markers: false, points: [[0, FLOOR], [STEPS, FLOOR]] });
  const sigma: Series[] = results.flatMap((r) => [
    { name: `${spec(r).label}: σmax`, color: spec(r).color, markers: false, points: r.points.map((p): [number, number] => [p.step, p.sigmaMax]) },
    { name: `${spec(r).label}: σmin`, color: spec(r).color, dashed: true, markers: false, points: r.points.map((p): [number, number] => [p.step, p.sigmaMin]) },
  ]);
  const files = [
    ["recall-cayley.svg", linePlot(recallSeries, { title: "plain RNN 1×128 on the recall task: loss on the recalled key (validation)", xLabel, yLabel: "nats per recall character", width: 820, height: 440 })],
    ["sigma-cayley.svg", linePlot(sigma, { title: "singular values of W_hh during training: σmax (solid), σmin (dashed)", xLabel, yLabel: "σ", logY: true, width: 820, height: 440 })],
  ];
  return files.map(([f, svg]) => {
    fs.writeFileSync(path.join(PLOTS, f), svg);
    return path.join(PLOTS, f);
  });
}

// ---- main --------------------------------------------------------------------------------------------------------

const unknown = ONLY.filter((n) => !RUNS.some((r) => r.name === n));
if (unknown.length) throw new Error(`unknown run(s) ${unknown.join(", ")}; runs: ${RUNS.map((r) => r.name).join(", ")}`);
const chosen = ONLY.length ? RUNS.filter((r) => ONLY.includes(r.name)) : RUNS.filter((r) => !r.extra);
log(`recall experiment: ${CORPUS} (${corpus.ids.length.toLocaleString("en-US")} chars; ${recalls.length} recall characters in validation), ${STEPS} steps; ` +
  `${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
if (!PLOT_ONLY) for (const r of chosen) await runOne(r);
const results: Result[] = [];
for (const r of RUNS) {
  const f = path.join(OUT, r.name, "recall.json");
  if (fs.existsSync(f)) results.push(JSON.parse(fs.readFileSync(f, "utf8")));
}
const md = table(results);
fs.writeFileSync(path.join(OUT, "table.md"), md);
log("\n" + md);
if (PLOT_ONLY || !ONLY.length) log(`wrote ${plots(results).join(", ")}`);
