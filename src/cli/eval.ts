// `rnn eval`: score a text (or the run's validation split) as one stream from a zero state; with --dynamic,
// also with dynamic evaluation (src/eval/dynamic.ts), reported apart and labelled "dynamic".
import fs from "node:fs";
import chalk from "chalk";
import { type Corpus, readCorpus, vocabIndex } from "../corpus/corpus.ts";
import type { Ids } from "../corpus/batches.ts";
import { DYNAMIC_EVAL_DEFAULTS } from "../config.ts";
import { RnnError, UsageError } from "../errors.ts";
import { selectKernels } from "../kernels/index.ts";
import { loadModel } from "../checkpoint/checkpoint.ts";
import { type DynamicSettings, evaluateDynamic } from "../eval/dynamic.ts";
import { type EvalResult, evaluateIds, summarize } from "../eval/evaluate.ts";
import { duration, human } from "./common.ts";
import type { FlagsOf } from "./options.ts";

/** The flags of `rnn eval`, as declared in options.ts. */
export type EvalFlags = FlagsOf<"eval">;

export async function evalCommand(file: string | undefined, flags: EvalFlags): Promise<void> {
  const dynamic = dynamicSettings(flags);
  const ops = await selectKernels(flags.kernels);
  const { model, meta } = loadModel(flags.model, ops);
  const progress = !flags.json && process.stderr.isTTY ? terminalProgress() : null;
  const onRead = progress ? (done: number, total: number) => progress("reading", done, total) : undefined;
  const { ids, skipped, what, unknown } = file ? textIds(file, meta.vocab, onRead) : valIds(meta.config.corpus, meta.config.valFrac, meta.vocab, onRead);
  progress?.("done", 0, 0);
  if (unknown.length) {
    const list = unknown.slice(0, 10).map((c) => JSON.stringify(c)).join(", ") + (unknown.length > 10 ? ", …" : "");
    process.stderr.write(`${chalk.yellow("rnn: warning:")} ${skipped} character${skipped === 1 ? "" : "s"} outside the model's vocabulary not scored: ${list}\n`);
  }
  if (ids.length < 2) throw new RnnError(`${what} has ${ids.length} scorable character${ids.length === 1 ? "" : "s"}; eval needs at least 2`);
  const r = evaluateIds(model, ids, 256, progress ? (done, total) => progress("evaluating", done, total) : undefined);
  progress?.("done", 0, 0);
  const s = { ...summarize(r.lossSum, r.count), skipped };
  // dynamic evaluation adapts a copy of the weights in memory (put back after): the checkpoint is only read
  const dr = dynamic ? evaluateDynamic(model, ids, dynamic, progress ? (done, total) => progress("dynamic", done, total) : undefined) : null;
  const d = dr ? summarize(dr.lossSum, dr.count) : null;
  progress?.("done", 0, 0);
  if (flags.json) {
    const dyn = d && dynamic ? { dynamic: { loss: d.loss, bpc: d.bpc, perplexity: d.perplexity, chars: d.chars, ...dynamic } } : {};
    process.stdout.write(`${JSON.stringify({ loss: s.loss, bpc: s.bpc, perplexity: s.perplexity, chars: s.chars, skipped: s.skipped, ...dyn })}\n`);
    return;
  }
  process.stdout.write(`${chalk.bold(what)}: ${numbers(s)}${skipped ? chalk.yellow(` · ${skipped} outside the vocabulary skipped`) : ""}\n`);
  if (d && dynamic) process.stdout.write(`${chalk.bold("dynamic")} (lr ${dynamic.lr}, decay ${dynamic.decay}, chunks of ${dynamic.seq}): ${numbers(d)}\n`);
}

function numbers(s: EvalResult): string {
  return `${chalk.cyan(s.loss.toFixed(4))} nats/char · ${chalk.cyan(s.bpc.toFixed(4))} bits/char · perplexity ${s.perplexity.toFixed(3)} · ${s.chars} characters scored`;
}

/** --dynamic's settings (defaults: DYNAMIC_EVAL_DEFAULTS), or null; its flags without it are refused. */
function dynamicSettings(flags: EvalFlags): DynamicSettings | null {
  if (!flags.dynamic) {
    const given = (["dynamicLr", "dynamicDecay", "seq"] as const).filter((k) => flags[k] !== undefined);
    if (given.length) throw new UsageError(`${given.map((k) => (k === "seq" ? "--seq" : k === "dynamicLr" ? "--dynamic-lr" : "--dynamic-decay")).join(", ")} ${given.length > 1 ? "set" : "sets"} dynamic evaluation: give --dynamic too`);
    return null;
  }
  const D = DYNAMIC_EVAL_DEFAULTS;
  return { lr: flags.dynamicLr ?? D.dynamicLr, decay: flags.dynamicDecay ?? D.dynamicDecay, seq: flags.seq ?? D.seq };
}

/** "reading 42%" / "evaluating 42% · 1.2M chars/s · 0m31s left" on one terminal line, at most 10 times a second. */
function terminalProgress(): (phase: "reading" | "evaluating" | "dynamic" | "done", done: number, total: number) => void {
  let last = 0, shown = false, t0 = 0, phaseNow = "";
  return (phase, done, total) => {
    if (phase === "done") {
      if (shown) process.stderr.write("\r\x1b[K");
      shown = false;
      return;
    }
    const now = performance.now();
    if (phase !== phaseNow) {
      phaseNow = phase;
      t0 = now;
      last = 0;
    }
    if (now - last < 100 && done < total) return;
    last = now;
    const pct = `${phase} ${Math.floor((100 * done) / total)}%`;
    const rate = phase !== "reading" && now - t0 > 500 ? (done / (now - t0)) * 1000 : 0;
    const tail = rate > 0 ? ` · ${human(rate)} chars/s · ${duration((total - done) / rate)} left` : "";
    process.stderr.write(`\r${pct}${tail}\x1b[K`);
    shown = true;
  };
}

/** Rewrites corpus ids (c.vocab's indices) as the model's, in place where the element type allows: -1 = unknown. */
function toModelIds(c: Corpus, vocab: string[]): { table: Int32Array; out: Ids; identity: boolean } {
  const index = vocabIndex(vocab);
  const table = Int32Array.from(c.vocab, (ch) => index.get(ch) ?? -1);
  const identity = table.every((m, i) => m === i);
  // model ids above 65535 do not fit the corpus's Uint16Array: then (only) a Uint32Array copy
  const out: Ids = c.ids instanceof Uint16Array && vocab.length > 65536 ? new Uint32Array(c.ids.length) : c.ids;
  return { table, out, identity };
}

/**
 * A file's characters as model ids. Characters outside the model's vocabulary are removed from the stream
 * (there is no input for them) and counted as skipped. The ids are the corpus reader's array rewritten in
 * place (2 bytes per character for a vocabulary of up to 65536).
 */
export function textIds(file: string, vocab: string[], onRead?: (done: number, total: number) => void): { ids: Ids; skipped: number; what: string; unknown: string[] } {
  const c = readCorpus([file], onRead);
  const { table, out, identity } = toModelIds(c, vocab);
  const unknown = c.vocab.filter((_, i) => table[i] < 0);
  if (identity && out === c.ids) return { ids: c.ids, skipped: 0, what: file, unknown };
  const src = c.ids;
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const m = table[src[i]];
    if (m >= 0) out[n++] = m; // n ≤ i: in place is safe
  }
  return { ids: out.subarray(0, n), skipped: src.length - n, what: file, unknown };
}

/** The run's validation split (the tail of its corpus) as model ids; only the split's ids are kept in memory. */
function valIds(corpus: string[], valFrac: number, vocab: string[], onRead?: (done: number, total: number) => void): { ids: Ids; skipped: number; what: string; unknown: string[] } {
  const missing = corpus.filter((p) => !fs.existsSync(p));
  if (missing.length) throw new RnnError(`the run's corpus ${missing.join(", ")} is gone; give a FILE to evaluate: rnn eval --model RUN FILE`);
  if (!(valFrac > 0)) throw new RnnError(`the run was trained with --val-frac 0, so it has no validation split; give a FILE to evaluate`);
  // the same split as splitTrainVal: the last ⌊chars · valFrac⌋ characters
  const c = readCorpus(corpus, onRead, { tail: (chars) => Math.floor(chars * valFrac) });
  const { table, out } = toModelIds(c, vocab);
  const src = c.ids;
  for (let i = 0; i < src.length; i++) {
    const m = table[src[i]];
    if (m < 0) throw new RnnError(`the run's corpus has changed since training (new characters); give a FILE to evaluate`);
    out[i] = m;
  }
  return { ids: out, skipped: 0, what: `validation split of ${corpus.join(", ")}`, unknown: [] };
}
