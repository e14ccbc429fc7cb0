// DIR/samples.jsonl, written by a training-event subscriber when the run has --sample-every: one line per
// sample, {"step","text","logprob"} (logprob: natural log-probability of the generated characters, see
// src/sample/sample.ts). The samples come from the same seed and context every time, so line after line shows
// what the model learned in between. Replaced atomically at every sample; on a resumed run the earlier lines
// are kept up to the resumed step (as metrics.jsonl's), and the new ones appended.
import fs from "node:fs";
import path from "node:path";
import { parseJsonObjects } from "../jsonl.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { SAMPLES } from "../run/dir.ts";
import type { TrainEvent } from "./train.ts";

export interface SampleLine {
  step: number;
  text: string;
  logprob: number | null;
}

/** The lines of DIR/samples.jsonl (unreadable lines are skipped; no file: none). */
export function readSamples(dir: string): SampleLine[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, SAMPLES), "utf8");
  } catch {
    return [];
  }
  return parseJsonObjects(text).objs.filter((o) => typeof o.step === "number" && typeof o.text === "string") as unknown as SampleLine[];
}

export function samplesWriter(dir: string): (e: TrainEvent) => void {
  let lines: SampleLine[] = [];
  const write = () => writeFileAtomic(path.join(dir, SAMPLES), lines.map((l) => JSON.stringify(l) + "\n").join(""), { what: "samples" });
  return (e) => {
    if (e.type === "start") {
      lines = [];
      if (!e.resumed) return;
      const old = readSamples(dir);
      lines = old.filter((l) => l.step <= e.startStep);
      if (lines.length !== old.length) write(); // drop the samples after the resumed step now
    } else if (e.type === "sample") {
      lines.push({ step: e.step, text: e.text, logprob: Number.isFinite(e.logprob) ? e.logprob : null });
      write();
    }
  };
}
