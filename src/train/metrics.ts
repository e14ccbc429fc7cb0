// The run's metrics files, written by a training-event subscriber:
//   DIR/metrics.jsonl  one JSON object per evaluation:
//                      {"step","trainLoss","valLoss","lr","gradNorm","clippedFrac","penalty"}
//                      trainLoss, gradNorm and clippedFrac are over the steps since the previous evaluation
//                      (gradNorm: mean global gradient norm BEFORE clipping; clippedFrac: share of those
//                      steps that were clipped); penalty: the --ortho-reg term at the last step (0 when off);
//                      a number that is not finite is written as null
//   DIR/loss.svg       train and validation loss against step, redrawn at every evaluation
// Both are replaced atomically at every evaluation (writeFileAtomic), so a crash leaves the previous complete
// files. On a resumed run, the lines of the earlier runs are kept, except those after the resumed step (an
// evaluation made after the last checkpoint of a run that then crashed): the resumed run redoes those steps.
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import { cellLabel } from "../model/cells/index.ts";
import { linePlot } from "../plot/svg.ts";
import { LOSS_SVG, METRICS } from "../run/dir.ts";
import type { TrainEvent } from "./train.ts";

export interface MetricsLine {
  step: number;
  trainLoss: number | null;
  valLoss: number | null;
  lr: number;
  gradNorm: number | null;
  clippedFrac: number;
  penalty: number;
}

/** The lines of DIR/metrics.jsonl (unreadable lines — e.g. hand-edited — are skipped). */
export function readMetrics(dir: string): MetricsLine[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, METRICS), "utf8");
  } catch {
    return [];
  }
  const lines: MetricsLine[] = [];
  for (const l of text.split("\n")) {
    if (!l.trim()) continue;
    try {
      const o = JSON.parse(l);
      if (typeof o?.step === "number") lines.push(o);
    } catch {
      // skip
    }
  }
  return lines;
}

/** The loss plot of a run's metrics. */
export function lossSvg(lines: MetricsLine[], title = "loss"): string {
  const pts = (k: "trainLoss" | "valLoss") => lines.map((l): [number, number] => [l.step, l[k] ?? NaN]);
  return linePlot(
    [
      { name: "train", points: pts("trainLoss") },
      { name: "validation", points: pts("valLoss"), dashed: true },
    ],
    { title, xLabel: "step", yLabel: "cross-entropy (nats/char)" },
  );
}

const finite = (v: number) => (Number.isFinite(v) ? v : null);

/**
 * A TrainEvent subscriber that maintains DIR/metrics.jsonl and DIR/loss.svg. It starts at the "start" event:
 * a new run starts empty (replacing any previous files at the first evaluation); a resumed run (start.resumed)
 * keeps the existing lines up to start.startStep. Each "eval" event adds a line and rewrites both files.
 */
export function metricsWriter(dir: string): (e: TrainEvent) => void {
  let lines: MetricsLine[] = [];
  let title = "loss";
  const write = () => {
    writeFileAtomic(path.join(dir, METRICS), lines.map((l) => JSON.stringify(l)).join("\n") + (lines.length ? "\n" : ""), { what: "metrics" });
    writeFileAtomic(path.join(dir, LOSS_SVG), lossSvg(lines, title), { what: "loss plot" });
  };
  return (e) => {
    if (e.type === "start") {
      const m = e.config.model;
      title = `${cellLabel(m)} ${m.layers}×${m.hidden} — ${path.basename(path.resolve(dir))}`;
      lines = e.resumed ? readMetrics(dir).filter((l) => l.step <= e.startStep) : [];
      if (e.resumed) write(); // drop the lines after the resumed step now, not only at the next evaluation
    } else if (e.type === "eval") {
      lines.push({
        step: e.step, trainLoss: finite(e.trainLoss), valLoss: e.valLoss === null ? null : finite(e.valLoss), lr: e.lr,
        gradNorm: finite(e.gradNorm), clippedFrac: e.clippedFrac, penalty: e.penalty,
      });
      write();
    }
  };
}
