// A run's metrics.jsonl and samples.jsonl as the dashboard plots them, read defensively: the files grow while a
// run trains (a half-written last line), their lines come from several versions of rnn (evaluation lines
// {"step","trainLoss","valLoss","lr","gradNorm","clippedFrac",…}; per-step lines {"kind":"train","step","loss",…};
// later fields), and a person may have edited them. A line that is not a JSON object with a numeric step is
// skipped; a field that is missing or not a finite number is simply absent from that point. Shared by the
// dashboard page and the server's tests: no DOM, no Node.

import { parseJsonObjects } from "../jsonl.ts";

/** One point of a run's history. Every field but step may be missing. */
export interface Point {
  step: number;
  /** seconds since the run started (from elapsed / wall / seconds, or a clock time made relative) */
  time?: number;
  /** training loss, nats/char: of the step (per-step lines) or averaged since the previous evaluation */
  trainLoss?: number;
  /** validation loss, nats/char */
  valLoss?: number;
  lr?: number;
  /** global gradient norm before clipping */
  gradNorm?: number;
  /** share of steps clipped (0…1); a per-step line's clipped flag counts 0 or 1 */
  clippedFrac?: number;
  /** training throughput, characters per second */
  charsPerSec?: number;
}

export interface RunLog {
  /** per-step lines (kind "train"), in file order */
  steps: Point[];
  /** evaluation lines (no kind, or kind "eval"), in file order */
  evals: Point[];
  /** lines skipped (not JSON, no step) */
  skipped: number;
  /** the first clock time seen (seconds), when lines carry clock times rather than elapsed seconds */
  clock0?: number;
}

export interface SampleLine {
  step: number | null;
  text: string;
  /** anything else on the line (temperature, seed…), shown as is */
  extra: Record<string, unknown>;
}

const num = (o: Record<string, unknown>, ...keys: string[]): number | undefined => {
  for (const k of keys) {
    const v = o[k];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return undefined;
};

/** The points of a metrics.jsonl text, or of lines appended to one (added to `into`). */
export function parseMetrics(text: string, into?: RunLog): RunLog {
  const { objs, skipped: bad } = parseJsonObjects(text);
  const log: RunLog = into ?? { steps: [], evals: [], skipped: 0 };
  log.skipped += bad;
  for (const o of objs) {
    const step = num(o, "step");
    if (step === undefined) {
      log.skipped++;
      continue;
    }
    let time = num(o, "elapsed", "wall", "seconds", "elapsedSec");
    const clock = num(o, "time", "t", "timestamp");
    if (time === undefined && clock !== undefined) {
      const s = clock > 1e12 ? clock / 1000 : clock; // epoch milliseconds or seconds
      log.clock0 ??= s;
      time = s - log.clock0;
    }
    const clipped = typeof o.clipped === "boolean" ? (o.clipped ? 1 : 0) : undefined;
    const p: Point = {
      step, time,
      trainLoss: num(o, "trainLoss", "loss"),
      valLoss: num(o, "valLoss"),
      lr: num(o, "lr"),
      gradNorm: num(o, "gradNorm"),
      clippedFrac: num(o, "clippedFrac") ?? clipped,
      charsPerSec: num(o, "charsPerSec", "charsPerSecond", "cps"),
    };
    for (const k of Object.keys(p) as (keyof Point)[]) if (p[k] === undefined) delete p[k];
    const kind = typeof o.kind === "string" ? o.kind : "eval";
    if (kind === "train" || kind === "step") log.steps.push(p);
    else if (kind === "eval" || kind === "val" || kind === "validation") log.evals.push(p);
    else log.skipped++;
  }
  // an evaluation line without a time takes the time of the per-step line of its step, when there is one
  if (log.evals.some((p) => p.time === undefined) && log.steps.length) {
    const at = new Map(log.steps.filter((p) => p.time !== undefined).map((p) => [p.step, p.time!]));
    for (const p of log.evals) if (p.time === undefined && at.has(p.step)) p.time = at.get(p.step);
  }
  return log;
}

/** The samples of a samples.jsonl text, in file order. */
export function parseSamples(text: string): SampleLine[] {
  const out: SampleLine[] = [];
  for (const o of parseJsonObjects(text).objs) {
    const t = o.text ?? o.sample ?? (Array.isArray(o.samples) ? o.samples.join("\n\n") : undefined);
    if (typeof t !== "string") continue;
    const { text: _t, sample: _s, samples: _ss, step, ...extra } = o;
    out.push({ step: typeof step === "number" ? step : null, text: t, extra });
  }
  return out;
}

/**
 * What changed between two versions of a growing file: the lines appended (when the old text is a prefix of
 * the new one, up to its last complete line), or a reset with every line. The server sends this to the page.
 */
export function diffText(before: string, now: string): { reset: boolean; text: string } {
  const complete = (s: string) => s.slice(0, s.lastIndexOf("\n") + 1);
  const a = complete(before), b = complete(now);
  if (b.startsWith(a)) return { reset: false, text: b.slice(a.length) };
  return { reset: true, text: b };
}
