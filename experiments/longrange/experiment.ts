// The long-range experiment (docs/experiment.md): plain RNN vs LSTM vs GRU at the same parameter budget on
// data/longrange.txt, and the remedies for the plain RNN. A script, not a test: it trains every run one after
// the other (the same data, steps, batch, seed and optimizer), then measures each final model on the
// validation split — the loss on every character, on the long-range-dependent characters (per kind, from
// markLongRange) and on the others — and writes a table and plots.
//
//   npx tsx experiments/longrange/experiment.ts [--steps N] [--out DIR] [--only name,...] [--seq T] [--batch B]
//                                           [--threads n] [--seed s] [--eval-every n] [--plots DIR] [--force]
//                                           [--corpus FILE]
//
//   defaults: --steps 1000 --batch 50 --seq 100 --seed 1234 --threads 2 --eval-every 200 (Adam, clip 5, each
//   run's own lr, validation = the last 5%); on a shared 2-vCPU machine the 12 default runs take about 20
//   minutes.
//
//   --out DIR     run directories DIR/<name>/ (each a normal rnn run: checkpoints, metrics.jsonl, loss.svg),
//                 DIR/results.json and DIR/table.md (default runs/longrange-experiment)
//   --only a,b    only these runs (the table holds every run of DIR that has results); without it, every run
//                 but the extra variants (those marked `extra` in RUNS)
//   --plots DIR   where the combined plots go (default docs/experiment)
//   --corpus FILE another corpus made by experiments/longrange/corpus.ts's generator (default data/longrange.txt)
//
// Each run directory also gets longrange.jsonl: the loss per kind of long-range-dependent character at every
// evaluation (measured between steps on the model being trained; not counted in the run's training time).
//   --force       retrain runs that already have results in DIR (default: a run whose DIR/<name>/experiment.json
//                 records the same settings is measured from that file, not retrained)
//
// Parameter budget: the reference is the LSTM 2×128 (one-hot input); the GRU and the RNN (2 layers) get the
// hidden width whose parameter count is closest to it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type CellKind, type ModelConfig, resolveTrainConfig, type TrainConfig } from "../../src/config.ts";
import { readCorpus } from "../../src/corpus/corpus.ts";
import { splitTrainVal } from "../../src/corpus/batches.ts";
import { selectKernels } from "../../src/kernels/index.ts";
import { paramCount } from "../../src/model/params.ts";
import { linePlot, type Series } from "../../src/plot/svg.ts";
import { loadModel } from "../../src/checkpoint/checkpoint.ts";
import { isRunFile } from "../../src/run/dir.ts";
import { createEvaluator } from "../../src/eval/evaluate.ts";
import { metricsWriter, readMetrics } from "../../src/train/metrics.ts";
import { train, type TrainEvent } from "../../src/train/train.ts";
import { type DependentSpan, markLongRange, type SpanKind, spanDistances } from "./corpus.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const KINDS: SpanKind[] = ["language", "pronoun", "name", "bracket"];

// ---- arguments ----------------------------------------------------------------------------------------------

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}
const num = (name: string, def: number): number => {
  const v = Number(arg(name, String(def)));
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
};
const STEPS = num("steps", 1000);
const BATCH = num("batch", 50);
const SEQ = num("seq", 100);
const SEED = num("seed", 1234);
const THREADS = num("threads", 2);
const EVAL_EVERY = num("eval-every", 200);
const OUT = path.resolve(arg("out", path.join(ROOT, "runs", "longrange-experiment")));
const PLOTS = path.resolve(arg("plots", path.join(ROOT, "docs", "experiment")));
const CORPUS = path.resolve(arg("corpus", path.join(ROOT, "data", "longrange.txt")));
const FORCE = process.argv.includes("--force");
const ONLY = arg("only", "").split(",").map((s) => s.trim()).filter(Boolean);

// ---- the runs -----------------------------------------------------------------------------------------------

interface RunSpec {
  name: string;
  /** what it is, for the table */
  label: string;
  cell: CellKind;
  activation?: ModelConfig["activation"];
  residual?: boolean;
  init?: TrainConfig["init"];
  orthoReg?: number;
  forgetBias?: number;
  /** stacked layers (default 2) */
  layers?: number;
  lr?: number;
  /** not in the default set: only run when named in --only (variants tried while choosing the settings) */
  extra?: boolean;
}

const LR = 2e-3;
// Every cell at two learning rates, the LSTM at three (the best one is its result: the LSTM wants the largest
// step); init is rnn's default (orthogonal W_hh, Xavier elsewhere, LSTM forget bias 1) unless noted.
// The plain RNN's remedies are applied one at a time at lr 2e-3 (its two learning rates end within 0.002
// nats/char of each other); "--init pytorch" is the RNN without the orthogonal-init remedy.
const RUNS: RunSpec[] = [
  { name: "lstm", label: "LSTM, lr 2e-3", cell: "lstm" },
  { name: "lstm-lr5e-3", label: "LSTM, lr 5e-3", cell: "lstm", lr: 5e-3 },
  { name: "lstm-lr1e-2", label: "LSTM, lr 1e-2", cell: "lstm", lr: 1e-2 },
  { name: "gru", label: "GRU, lr 2e-3", cell: "gru" },
  { name: "gru-lr5e-3", label: "GRU, lr 5e-3", cell: "gru", lr: 5e-3 },
  { name: "rnn", label: "RNN tanh, lr 2e-3", cell: "rnn" },
  { name: "rnn-lr5e-3", label: "RNN tanh, lr 5e-3", cell: "rnn", lr: 5e-3 },
  { name: "rnn-pytorch-init", label: "RNN tanh, --init pytorch (no orthogonal init)", cell: "rnn", init: "pytorch" },
  { name: "rnn-ortho-reg", label: "RNN tanh, --ortho-reg 1e-3", cell: "rnn", orthoReg: 1e-3 },
  { name: "rnn-residual", label: "RNN tanh, --residual", cell: "rnn", residual: true },
  { name: "rnn-relu", label: "RNN relu", cell: "rnn", activation: "relu" },
  { name: "rnn-relu-lr1e-3", label: "RNN relu, lr 1e-3", cell: "rnn", activation: "relu", lr: 1e-3 },
  { name: "lstm-pytorch-init", label: "LSTM, --init pytorch, lr 5e-3", cell: "lstm", init: "pytorch", lr: 5e-3, extra: true },
  { name: "gru-pytorch-init", label: "GRU, --init pytorch, lr 5e-3", cell: "gru", init: "pytorch", lr: 5e-3, extra: true },
  { name: "lstm-fb3", label: "LSTM, lr 5e-3, --forget-bias 3", cell: "lstm", lr: 5e-3, forgetBias: 3, extra: true },
  { name: "lstm-1layer", label: "LSTM 1 layer, lr 5e-3", cell: "lstm", layers: 1, lr: 5e-3, extra: true },
  { name: "rnn-ortho-reg-1e-2", label: "RNN tanh, --ortho-reg 1e-2", cell: "rnn", orthoReg: 1e-2, extra: true },
];

// ---- corpus and the long-range positions of the validation split -----------------------------------------

const corpus = readCorpus([CORPUS]);
const V = corpus.vocab.length;
const VAL_FRAC = 0.05;
const { val } = splitTrainVal(corpus.ids, VAL_FRAC);
const cut = corpus.ids.length - val.length; // code point offset of the validation split
const text = fs.readFileSync(CORPUS, "utf8");
const cps = Array.from(text); // [len] one string per code point
if (cps.length !== corpus.ids.length) throw new Error(`${CORPUS}: ${cps.length} code points in the text, ${corpus.ids.length} ids`);
const allSpans = markLongRange(text);
// kindAt[i]: 1 + index in KINDS of the span covering validation position i, 0 = not long-range-dependent
const kindAt = new Uint8Array(val.length);
const valSpans: DependentSpan[] = allSpans.filter((s) => s.start >= cut);
for (const s of valSpans) {
  for (let i = s.start - cut; i < s.end - cut; i++) {
    if (kindAt[i]) throw new Error(`spans overlap at ${i + cut}`);
    kindAt[i] = 1 + KINDS.indexOf(s.kind);
  }
}
const spansOf = (k: SpanKind) => valSpans.filter((s) => s.kind === k).length;

// The language words of the validation split by how far back the place that fixes them is (code points from
// the place to the word): does a model keep the fact 20 characters? 100?
const BUCKETS: [number, number][] = [[0, 40], [40, 80], [80, 120], [120, Infinity]];
const bucketName = ([lo, hi]: [number, number]) => (hi === Infinity ? `≥ ${lo}` : `${lo}–${hi}`);
const distances = spanDistances(text); // one per span of allSpans, in the same order
const LANG_MASKS = BUCKETS.map(() => new Uint8Array(val.length));
const langSpansIn = BUCKETS.map(() => 0);
allSpans.forEach((s, i) => {
  if (s.start < cut || s.kind !== "language") return;
  const b = BUCKETS.findIndex(([lo, hi]) => distances[i].distance >= lo && distances[i].distance < hi);
  langSpansIn[b]++;
  for (let j = s.start - cut; j < s.end - cut; j++) LANG_MASKS[b][j] = 1;
});

/**
 * About what a model without long-range memory can reach, in nats per span, from the training split's counts:
 * names, places and genders are drawn independently of everything near the closer, so the best memoryless
 * guess of a language, name or pronoun is its prior — the entropy of the word (pronouns: of the gender). For
 * pronouns and names this is only a lower bound: when the word starts the closer, every model also pays for
 * not knowing the closer's template.
 * Brackets: a model that knows that an aside can only close at the end of a filler sentence, but not whether
 * one is open or which bracket opened it, predicts each closing bracket with its frequency after a filler
 * sentence's end; the floor is the mean −ln of that over the closing brackets.
 */
function memorylessFloor(kind: SpanKind): number {
  const trainText = cps.slice(0, cut).join("");
  const trainSpans = allSpans.filter((s) => s.end <= cut && s.kind === kind);
  const counts = new Map<string, number>();
  let n = 0;
  if (kind === "bracket") {
    for (const par of trainText.split("\n\n").slice(0, -1)) { // the last paragraph may be cut
      for (let i = par.indexOf(".") + 1; i < par.length - 1; i++) {
        if (/[.?!]/.test(par[i])) { counts.set(par[i + 1], (counts.get(par[i + 1]) ?? 0) + 1); n++; }
      }
    }
    let sum = 0;
    for (const s of trainSpans) sum -= Math.log((counts.get(cps[s.start]) ?? 0) / n);
    return sum / trainSpans.length;
  }
  for (const s of trainSpans) {
    let w = cps.slice(s.start, s.end).join("");
    if (kind === "pronoun") w = /^(she|her)$/i.test(w) ? "f" : "m";
    counts.set(w, (counts.get(w) ?? 0) + 1);
    n++;
  }
  let h = 0;
  for (const c of counts.values()) h -= (c / n) * Math.log(c / n);
  return h;
}

/** Each kind's scoring mask over the validation split. */
const MASKS = KINDS.map((_, j) => kindAt.map((k) => (k === j + 1 ? 1 : 0)));

interface Measured {
  valLoss: number;
  chars: number;
  byKind: Record<SpanKind, { lossSum: number; count: number; spans: number }>;
  other: { lossSum: number; count: number };
  /** the language words per distance bucket (BUCKETS) */
  langByDist: { lossSum: number; count: number; spans: number }[];
}

/** The loss summed over each kind of long-range-dependent character of the validation split (one pass each). */
function measureKinds(evaluate: ReturnType<typeof createEvaluator>): Measured["byKind"] {
  const byKind = {} as Measured["byKind"];
  KINDS.forEach((k, j) => {
    const m = evaluate(val, MASKS[j]);
    byKind[k] = { lossSum: m.lossSum, count: m.count, spans: spansOf(k) };
  });
  return byKind;
}

/** The validation loss of a model: overall, per kind of long-range-dependent character, and on the others. */
function measure(evaluate: ReturnType<typeof createEvaluator>): Measured {
  const all = evaluate(val);
  const byKind = measureKinds(evaluate);
  let depSum = 0, depCount = 0;
  for (const k of KINDS) { depSum += byKind[k].lossSum; depCount += byKind[k].count; }
  const langByDist = LANG_MASKS.map((mask, b) => {
    const m = evaluate(val, mask);
    return { lossSum: m.lossSum, count: m.count, spans: langSpansIn[b] };
  });
  return { valLoss: all.lossSum / all.count, chars: all.count, byKind, other: { lossSum: all.lossSum - depSum, count: all.count - depCount }, langByDist };
}

// ---- budget: hidden widths at the LSTM 2×128 parameter count ----------------------------------------------

const modelOf = (cell: CellKind, hidden: number, r: RunSpec): ModelConfig => ({
  cell, layers: r.layers ?? 2, hidden, embed: 0, activation: r.activation ?? "tanh", residual: r.residual ?? false, vocabSize: V,
});
const REF_PARAMS = paramCount(modelOf("lstm", 128, RUNS[0]));
function widthFor(r: RunSpec): number {
  const cell = r.cell;
  if (cell === "lstm" && (r.layers ?? 2) === 2) return 128;
  let best = 1, bestD = Infinity;
  for (let h = 1; h <= 1024; h++) {
    const d = Math.abs(paramCount(modelOf(cell, h, r)) - REF_PARAMS);
    if (d < bestD) { bestD = d; best = h; }
  }
  return best;
}

// ---- one run --------------------------------------------------------------------------------------------------

interface Result {
  name: string;
  label: string;
  command: string;
  settings: string;
  hidden: number;
  params: number;
  steps: number;
  /** null when the run diverged */
  diverged: string | null;
  seconds: number;
  charsPerSec: number;
  valLoss: number;
  chars: number;
  /** loss summed over the validation positions of each kind, and how many positions / spans */
  byKind: Record<SpanKind, { lossSum: number; count: number; spans: number }>;
  other: { lossSum: number; count: number };
  langByDist: Measured["langByDist"];
}

function commandOf(r: RunSpec, hidden: number): string {
  const f = [`rnn train ${path.relative(ROOT, CORPUS)} --out runs/${r.name} --cell ${r.cell} --layers ${r.layers ?? 2} --hidden ${hidden}`];
  if (r.activation === "relu") f.push("--activation relu");
  if (r.residual) f.push("--residual");
  if (r.init) f.push(`--init ${r.init}`);
  if (r.orthoReg) f.push(`--ortho-reg ${r.orthoReg}`);
  if (r.forgetBias !== undefined) f.push(`--forget-bias ${r.forgetBias}`);
  f.push(`--batch ${BATCH} --seq ${SEQ} --lr ${r.lr ?? LR} --clip 5 --steps ${STEPS} --seed ${SEED} --eval-every ${EVAL_EVERY} --threads ${THREADS}`);
  return f.join(" ");
}

async function runOne(r: RunSpec): Promise<Result> {
  const hidden = widthFor(r);
  const dir = path.join(OUT, r.name);
  const command = commandOf(r, hidden);
  const settings = JSON.stringify({ command, corpusChars: corpus.ids.length });
  const saved = path.join(dir, "experiment.json");
  if (!FORCE && fs.existsSync(saved)) {
    const prev = JSON.parse(fs.readFileSync(saved, "utf8")) as Result;
    if (prev.settings === settings) {
      log(`${r.name}: results from ${path.relative(process.cwd(), saved)} (same settings; --force retrains)`);
      return prev;
    }
  }
  // start afresh: remove this script's and rnn's files of an earlier run here (never anything else)
  const ours = (f: string) => isRunFile(f) || f === "longrange.jsonl" || f === "experiment.json";
  if (fs.existsSync(dir)) for (const f of fs.readdirSync(dir)) if (ours(f)) fs.rmSync(path.join(dir, f), { force: true });
  const cfg = resolveTrainConfig(
    {
      model: modelOf(r.cell, hidden, r), corpus: [CORPUS], batch: BATCH, seq: SEQ, valFrac: VAL_FRAC, lr: r.lr ?? LR, clip: 5,
      init: r.init ?? "orthogonal", orthoReg: r.orthoReg ?? 0, forgetBias: r.forgetBias ?? null, steps: STEPS, evalEvery: EVAL_EVERY, seed: SEED, threads: THREADS,
    },
    { threads: THREADS, out: dir },
  );
  const ops = await selectKernels();
  log(`${r.name}: ${command}`);
  const metrics = metricsWriter(dir);
  // the long-range losses at every evaluation, measured on the model being trained (handed to every event;
  // the evaluation events come between steps, when the workers are idle)
  let liveEval: ReturnType<typeof createEvaluator> | null = null;
  let measureSec = 0; // time spent in those measurements: not part of the training time
  const curveFile = path.join(dir, "longrange.jsonl");
  const t0 = performance.now();
  let end: (TrainEvent & { type: "end" }) | null = null;
  let diverged: string | null = null;
  try {
    end = await train({
      cfg, vocab: corpus.vocab, ids: corpus.ids, kernels: ops,
      onEvent: (e, live) => {
        metrics(e);
        if (e.type === "eval") {
          let lr = "";
          if (Number.isFinite(e.valLoss)) {
            const m0 = performance.now();
            liveEval ??= createEvaluator(live);
            const byKind = measureKinds(liveEval); // the overall loss is the event's
            measureSec += (performance.now() - m0) / 1000;
            fs.appendFileSync(curveFile, JSON.stringify({ step: e.step, valLoss: e.valLoss, byKind }) + "\n");
            const per = (k: SpanKind) => fmt(byKind[k].lossSum / byKind[k].spans, 2);
            lr = `  per span: language ${per("language")} pronoun ${per("pronoun")} name ${per("name")} bracket ${per("bracket")}`;
          }
          log(`  ${r.name} step ${e.step}/${STEPS}  train ${e.trainLoss.toFixed(4)}  val ${e.valLoss?.toFixed(4)}  |g| ${e.gradNorm.toFixed(2)}  clipped ${(100 * e.clippedFrac).toFixed(0)}%${lr}  ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        }
      },
    });
  } catch (e) {
    diverged = (e as Error).message;
    log(`  ${r.name}: ${diverged}`);
  }
  // training time (with the run's own validations), without the long-range measurements made at the evaluations
  const seconds = (performance.now() - t0) / 1000 - measureSec;

  // measure the final model (latest.safetensors); a run that diverged has no final model
  let got: Measured = {
    valLoss: NaN, chars: 0, other: { lossSum: NaN, count: 0 }, langByDist: BUCKETS.map((_, b) => ({ lossSum: NaN, count: 0, spans: langSpansIn[b] })),
    byKind: Object.fromEntries(KINDS.map((k) => [k, { lossSum: NaN, count: 0, spans: spansOf(k) }])) as Measured["byKind"],
  };
  if (!diverged) got = measure(createEvaluator(loadModel(dir, ops).model));
  const { valLoss, chars, byKind, other, langByDist } = got;
  const res: Result = {
    name: r.name, label: r.label, command, settings, hidden, params: paramCount(modelOf(r.cell, hidden, r)), steps: end?.step ?? 0,
    diverged, seconds, charsPerSec: end ? (end.step * BATCH * SEQ) / seconds : NaN, valLoss, chars, byKind, other, langByDist,
  };
  fs.writeFileSync(saved, JSON.stringify(res, null, 1) + "\n");
  log(`  ${r.name}: val ${valLoss.toFixed(4)} nats/char, long-range ${fmt(depLoss(res))}, other ${fmt(res.other.lossSum / res.other.count)}, ${seconds.toFixed(0)} s`);
  return res;
}

// ---- report -----------------------------------------------------------------------------------------------

function log(s: string): void {
  process.stdout.write(s + "\n");
}
const fmt = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : "—");
function depLoss(r: Result): number {
  let s = 0, c = 0;
  for (const k of KINDS) { s += r.byKind[k].lossSum; c += r.byKind[k].count; }
  return s / c;
}

function table(results: Result[]): string {
  const rows: string[] = [];
  rows.push("| run | H | params | val loss (nats/char) | val bpc | long-range chars | language | pronoun | name | bracket | other chars | time | chars/s |");
  rows.push("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
  for (const r of results) {
    const per = (k: SpanKind) => fmt(r.byKind[k].lossSum / r.byKind[k].count);
    const sec = Math.round(r.seconds);
    const t = `${Math.floor(sec / 60)}:${String(sec % 60).padStart(2, "0")}`;
    const name = r.diverged ? `${r.label} (diverged: ${r.diverged.replace(/;.*/, "")})` : r.label;
    rows.push(
      `| ${name} | ${r.hidden} | ${r.params.toLocaleString("en-US")} | ${fmt(r.valLoss)} | ${fmt(r.valLoss / Math.LN2)} | ${fmt(depLoss(r))} | ` +
        `${per("language")} | ${per("pronoun")} | ${per("name")} | ${per("bracket")} | ${fmt(r.other.lossSum / r.other.count)} | ${t} | ${fmt(r.charsPerSec, 0)} |`,
    );
  }
  const spans = ["", "Loss per span (nats summed over the characters of one word or bracket; lower is better) against about what",
    "a model without long-range memory can reach (the entropy of the word's prior; brackets: see the script):", "",
    "| run | " + KINDS.join(" | ") + " |", "|---|" + KINDS.map(() => "--:").join("|") + "|",
    "| *memoryless floor* | " + KINDS.map((k) => `*${fmt(memorylessFloor(k))}*`).join(" | ") + " |"];
  for (const r of results) spans.push(`| ${r.label} | ` + KINDS.map((k) => fmt(r.byKind[k].lossSum / r.byKind[k].spans)).join(" | ") + " |");
  spans.push("", "The language word by how far back (characters) the place that fixes it is, nats per word (memoryless floor " +
    `${fmt(memorylessFloor("language"))}):`, "",
    "| run | " + BUCKETS.map((b, i) => `${bucketName(b)} (${langSpansIn[i]} words)`).join(" | ") + " |", "|---|" + BUCKETS.map(() => "--:").join("|") + "|");
  for (const r of results) spans.push(`| ${r.label} | ` + (r.langByDist ?? []).map((x) => fmt(x.lossSum / x.spans)).join(" | ") + " |");
  const v0 = results.find((r) => !r.diverged);
  const counts = KINDS.map((k) => `${k} ${v0?.byKind[k].count ?? "?"} chars in ${spansOf(k)} spans`).join(", ");
  return [
    ...rows, "",
    `Validation split: the last ${val.length.toLocaleString("en-US")} characters (${VAL_FRAC * 100}%) of ${path.relative(ROOT, CORPUS)}; ` +
      `long-range-dependent: ${counts}; losses in nats/char unless noted.`,
    ...spans,
  ].join("\n") + "\n";
}

/** Line style per run: a colour per cell family and remedy; dashed: the learning rate that was not the cell's best. */
const STYLE: Record<string, { color: string; dashed?: boolean }> = {
  lstm: { color: "#1f77b4", dashed: true }, "lstm-lr5e-3": { color: "#1f77b4", dashed: true }, "lstm-lr1e-2": { color: "#1f77b4" },
  "lstm-fb3": { color: "#17becf", dashed: true }, "lstm-pytorch-init": { color: "#17becf" },
  gru: { color: "#d62728", dashed: true }, "gru-lr5e-3": { color: "#d62728" }, "gru-pytorch-init": { color: "#e377c2" },
  rnn: { color: "#2ca02c" }, "rnn-lr5e-3": { color: "#2ca02c", dashed: true }, "rnn-pytorch-init": { color: "#bcbd22" },
  "rnn-ortho-reg": { color: "#ff7f0e" }, "rnn-ortho-reg-1e-2": { color: "#ff7f0e", dashed: true },
  "rnn-residual": { color: "#9467bd" }, "rnn-relu": { color: "#8c564b" }, "rnn-relu-lr1e-3": { color: "#8c564b", dashed: true },
};
const CELLS_PLOT = ["lstm", "lstm-lr5e-3", "lstm-lr1e-2", "gru", "gru-lr5e-3", "rnn", "rnn-lr5e-3"];
const REMEDIES_PLOT = ["gru-lr5e-3", "rnn", "rnn-pytorch-init", "rnn-ortho-reg", "rnn-residual", "rnn-relu", "rnn-relu-lr1e-3", "rnn-ortho-reg-1e-2"];

function plots(results: Result[]): string[] {
  fs.mkdirSync(PLOTS, { recursive: true });
  const written: string[] = [];
  const write = (file: string, svg: string) => { fs.writeFileSync(path.join(PLOTS, file), svg); written.push(path.join(PLOTS, file)); };
  const pick = (names: string[]) => results.filter((r) => names.includes(r.name));
  const styled = (r: Result, points: [number, number][]): Series => ({ name: `${r.label} (H ${r.hidden})`, points, markers: false, ...STYLE[r.name] });
  const xLabel = `step (B${BATCH} × T${SEQ})`;
  const val = (which: Result[]) => which.map((r) => styled(r, readMetrics(path.join(OUT, r.name)).map((l): [number, number] => [l.step, l.valLoss ?? NaN])));
  write("val-loss-cells.svg", linePlot(val(pick(CELLS_PLOT)), {
    title: `validation loss: LSTM, GRU and plain RNN at ~${Math.round(REF_PARAMS / 1000)}k parameters`, xLabel, yLabel: "nats/char",
  }));
  if (pick(REMEDIES_PLOT).filter((r) => r.name.startsWith("rnn")).length >= 2) {
    write("val-loss-rnn-remedies.svg", linePlot(val(pick(REMEDIES_PLOT)), {
      title: "validation loss: the plain RNN's remedies (the GRU for reference)", xLabel, yLabel: "nats/char",
    }));
  }
  // the loss per span of one kind against the step, with the memoryless floor (language: the clean case, fixed
  // only by the opener; bracket: fixed by the bracket that opened the aside)
  const curves = (kind: SpanKind, which: Result[]): Series[] => {
    const out = which.map((r) => styled(r, readCurve(r.name).map((l): [number, number] => [l.step, l.byKind[kind].lossSum / l.byKind[kind].spans])));
    const steps = out.flatMap((s) => s.points.map((p) => p[0]));
    if (steps.length) {
      const floor = memorylessFloor(kind);
      out.push({ name: `memoryless floor (${fmt(floor, 2)})`, points: [[Math.min(...steps), floor], [Math.max(...steps), floor]], color: "#777", dashed: true, markers: false });
    }
    return out;
  };
  const withCurves = results.filter((r) => readCurve(r.name).length > 0);
  for (const kind of ["language", "bracket"] as SpanKind[]) {
    if (!withCurves.length) break;
    write(`longrange-${kind}.svg`, linePlot(curves(kind, withCurves), {
      title: `validation loss on the ${kind} spans, nats per span`, xLabel, yLabel: "nats per span", height: 480,
    }));
  }
  return written;
}

function readCurve(name: string): { step: number; valLoss: number; byKind: Measured["byKind"] }[] {
  try {
    return fs.readFileSync(path.join(OUT, name, "longrange.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

// ---- main -------------------------------------------------------------------------------------------------------

const chosen = ONLY.length ? RUNS.filter((r) => ONLY.includes(r.name)) : RUNS.filter((r) => !r.extra);
const unknown = ONLY.filter((n) => !RUNS.some((r) => r.name === n));
if (unknown.length) throw new Error(`unknown run(s) ${unknown.join(", ")}; runs: ${RUNS.map((r) => r.name).join(", ")}`);
fs.mkdirSync(OUT, { recursive: true });
log(`long-range experiment: ${CORPUS} (${corpus.ids.length.toLocaleString("en-US")} chars, V=${V}), ${STEPS} steps of B${BATCH}×T${SEQ}, seed ${SEED}, ${THREADS} threads`);
log(`machine: ${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}, Node ${process.version}, ${os.platform()} ${os.arch()}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
const t0 = performance.now();
for (const r of chosen) await runOne(r);
// every run of OUT with results, in the order of RUNS
const results: Result[] = [];
for (const r of RUNS) {
  const f = path.join(OUT, r.name, "experiment.json");
  if (fs.existsSync(f)) results.push(JSON.parse(fs.readFileSync(f, "utf8")));
}
const md = table(results);
fs.writeFileSync(path.join(OUT, "table.md"), md);
fs.writeFileSync(path.join(OUT, "results.json"), JSON.stringify(results, null, 1) + "\n");
const svgs = plots(results);
log("\n" + md);
log(`wrote ${path.join(OUT, "table.md")}, ${path.join(OUT, "results.json")}, ${svgs.join(", ")}`);
log(`total ${((performance.now() - t0) / 60000).toFixed(1)} min; load average now ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
