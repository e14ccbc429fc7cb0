// The run's metrics files, written by a training-event subscriber:
//   DIR/metrics.jsonl  two kinds of line, in step order:
//                      {"kind":"train","step","loss","steps"} every trainEvery(evalEvery) = max(1, ⌊evalEvery/10⌋)
//                      steps: the mean training loss of the `steps` steps up to `step` (fewer than the
//                      cadence only for the last window of a run, and the first after a resume);
//                      {"kind":"eval","step","trainLoss","valLoss","lr","gradNorm","clippedFrac","penalty"}
//                      at each evaluation: trainLoss, gradNorm and clippedFrac are over the steps since the
//                      previous evaluation (gradNorm: mean global gradient norm BEFORE clipping; clippedFrac:
//                      share of those steps that were clipped); penalty: the --ortho-reg term at the last step
//                      (0 when off). A number that is not finite is written as null. Files written before
//                      the train lines existed have only eval lines, without "kind": readers take them as such.
//   DIR/loss.svg       the training loss (the train lines) and the validation loss against step, nats/char on
//                      the left axis and bits/char on the right, the best validation loss ringed
// Both are replaced atomically at every evaluation and at the end of the run (writeFileAtomic), so a crash
// leaves the previous complete files. On a resumed run, the lines of the earlier runs are kept, except those
// after the resumed step (an evaluation made after the last checkpoint of a run that then crashed): the
// resumed run redoes those steps.
import fs from "node:fs";
import path from "node:path";
import { parseJsonObjects } from "../jsonl.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { cellLabel } from "../model/cells/index.ts";
import { linePlot } from "../plot/svg.ts";
import { LOSS_SVG, METRICS } from "../run/dir.ts";
import type { TrainEvent } from "./train.ts";

/** An evaluation's line. */
export interface MetricsLine {
  /** absent in files written before the train lines existed */
  kind?: "eval";
  step: number;
  trainLoss: number | null;
  valLoss: number | null;
  lr: number;
  gradNorm: number | null;
  clippedFrac: number;
  penalty: number;
}

/** A line of the training loss: the mean over the `steps` steps up to `step`. */
export interface TrainLossLine {
  kind: "train";
  step: number;
  loss: number | null;
  steps: number;
}

export type MetricsRecord = MetricsLine | TrainLossLine;

const isTrainLine = (l: MetricsRecord): l is TrainLossLine => l.kind === "train";

/** Steps between train lines: a tenth of the evaluation cadence (at least every step). */
export const trainEvery = (evalEvery: number): number => Math.max(1, Math.floor(evalEvery / 10));

/** Every line of DIR/metrics.jsonl, both kinds (unreadable lines — e.g. hand-edited — are skipped). */
export function readMetricsRecords(dir: string): MetricsRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, METRICS), "utf8");
  } catch {
    return [];
  }
  return parseJsonObjects(text).objs.filter((o) => typeof o.step === "number") as unknown as MetricsRecord[];
}

/** The evaluation lines of DIR/metrics.jsonl (old files: every line). */
export function readMetrics(dir: string): MetricsLine[] {
  return readMetricsRecords(dir).filter((l): l is MetricsLine => !isTrainLine(l));
}

const trainName = (k: number) => (k > 1 ? `train (mean of each ${k} steps)` : "train (every step)");

/**
 * The loss plot of a run's metrics: the train lines (or, in a file without them, each evaluation's mean since
 * the previous one) and the validation loss, a bits-per-character axis, the best validation loss ringed.
 */
export function lossSvg(lines: MetricsRecord[], title = "loss"): string {
  const evals = lines.filter((l): l is MetricsLine => !isTrainLine(l));
  const trains = lines.filter(isTrainLine);
  const train = trains.length
    ? { name: trainName(trains.reduce((k, l) => Math.max(k, l.steps), 1)), points: trains.map((l): [number, number] => [l.step, l.loss ?? NaN]) }
    : { name: "train (mean since the previous evaluation)", points: evals.map((l): [number, number] => [l.step, l.trainLoss ?? NaN]) };
  let best: MetricsLine | null = null;
  for (const l of evals) if (typeof l.valLoss === "number" && Number.isFinite(l.valLoss) && (best === null || l.valLoss < best.valLoss!)) best = l;
  const marks = best ? [{
    x: best.step, y: best.valLoss!,
    label: `best validation loss: ${best.valLoss!.toFixed(4)} nats/char (${(best.valLoss! / Math.LN2).toFixed(3)} bits/char) at step ${best.step}, best.safetensors`,
  }] : [];
  return linePlot(
    [
      { ...train, markers: train.points.length <= 60 },
      { name: "validation", points: evals.map((l): [number, number] => [l.step, l.valLoss ?? NaN]), dashed: true },
    ],
    { title, xLabel: "step", yLabel: "cross-entropy (nats/char)", y2: { label: "bits per character", scale: 1 / Math.LN2 }, marks },
  );
}

const finite = (v: number) => (Number.isFinite(v) ? v : null);

/**
 * A TrainEvent subscriber that maintains DIR/metrics.jsonl and DIR/loss.svg. It starts at the "start" event:
 * a new run starts empty (replacing any previous files at the first evaluation); a resumed run (start.resumed)
 * keeps the existing lines up to start.startStep. "step" events are averaged into a train line every
 * trainEvery(evalEvery) steps; each "eval" event adds a line and rewrites both files; the "end" event adds the
 * last (partial) train line and rewrites them.
 */
export function metricsWriter(dir: string): (e: TrainEvent) => void {
  let lines: MetricsRecord[] = [];
  let title = "loss";
  let every = 1, n = 0, sum = 0;
  const flushTrain = (step: number) => {
    if (n > 0) lines.push({ kind: "train", step, loss: finite(sum / n), steps: n });
    n = 0;
    sum = 0;
  };
  const write = () => {
    writeFileAtomic(path.join(dir, METRICS), lines.map((l) => JSON.stringify(l)).join("\n") + (lines.length ? "\n" : ""), { what: "metrics" });
    writeFileAtomic(path.join(dir, LOSS_SVG), lossSvg(lines, title), { what: "loss plot" });
  };
  return (e) => {
    if (e.type === "start") {
      const m = e.config.model;
      title = `${cellLabel(m)} ${m.layers}×${m.hidden} — ${path.basename(path.resolve(dir))}`;
      lines = e.resumed ? readMetricsRecords(dir).filter((l) => l.step <= e.startStep) : [];
      every = trainEvery(e.config.evalEvery);
      n = 0;
      sum = 0;
      if (e.resumed) write(); // drop the lines after the resumed step now, not only at the next evaluation
    } else if (e.type === "step") {
      n++;
      sum += e.loss;
      if (e.step % every === 0) flushTrain(e.step);
    } else if (e.type === "end") {
      if (n > 0) {
        flushTrain(e.step);
        write();
      }
    } else if (e.type === "eval") {
      lines.push({
        kind: "eval", step: e.step, trainLoss: finite(e.trainLoss), valLoss: e.valLoss === null ? null : finite(e.valLoss), lr: e.lr,
        gradNorm: finite(e.gradNorm), clippedFrac: e.clippedFrac, penalty: e.penalty,
      });
      write();
    }
  };
}
