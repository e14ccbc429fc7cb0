// `rnn eval`: score a text (or the run's validation split) as one stream from a zero state.
import fs from "node:fs";
import chalk from "chalk";
import { readCorpus } from "../corpus/corpus.ts";
import { splitTrainVal } from "../corpus/batches.ts";
import { RnnError } from "../errors.ts";
import { selectKernels } from "../kernels/index.ts";
import { loadModel } from "../checkpoint/checkpoint.ts";
import { evaluateIds, summarize } from "../eval/evaluate.ts";
import type { FlagsOf } from "./options.ts";

/** The flags of `rnn eval`, as declared in options.ts. */
export type EvalFlags = FlagsOf<"eval">;

export async function evalCommand(file: string | undefined, flags: EvalFlags): Promise<void> {
  const ops = await selectKernels(flags.kernels);
  const { model, meta } = loadModel(flags.model, ops);
  const { ids, skipped, what, unknown } = file ? textIds(file, meta.vocab) : valIds(meta.config.corpus, meta.config.valFrac, meta.vocab);
  if (unknown.length) {
    const list = unknown.slice(0, 10).map((c) => JSON.stringify(c)).join(", ") + (unknown.length > 10 ? ", …" : "");
    process.stderr.write(`${chalk.yellow("rnn: warning:")} ${skipped} character${skipped === 1 ? "" : "s"} outside the model's vocabulary not scored: ${list}\n`);
  }
  if (ids.length < 2) throw new RnnError(`${what} has ${ids.length} scorable character${ids.length === 1 ? "" : "s"}; eval needs at least 2`);
  const r = evaluateIds(model, ids);
  const s = { ...summarize(r.lossSum, r.count), skipped };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ loss: s.loss, bpc: s.bpc, perplexity: s.perplexity, chars: s.chars, skipped: s.skipped })}\n`);
    return;
  }
  process.stdout.write(
    `${chalk.bold(what)}: ${chalk.cyan(s.loss.toFixed(4))} nats/char · ${chalk.cyan(s.bpc.toFixed(4))} bits/char · ` +
      `perplexity ${s.perplexity.toFixed(3)} · ${s.chars} characters scored${skipped ? chalk.yellow(` · ${skipped} outside the vocabulary skipped`) : ""}\n`,
  );
}

/**
 * A file's characters as model ids. Characters outside the model's vocabulary are removed from the stream
 * (there is no input for them) and counted as skipped.
 */
export function textIds(file: string, vocab: string[]): { ids: Int32Array; skipped: number; what: string; unknown: string[] } {
  const c = readCorpus([file]);
  const index = new Map(vocab.map((ch, i) => [ch, i]));
  const map = c.vocab.map((ch) => index.get(ch) ?? -1);
  const unknown = c.vocab.filter((_, i) => map[i] < 0);
  const ids = new Int32Array(c.ids.length);
  let n = 0;
  for (let i = 0; i < c.ids.length; i++) {
    const m = map[c.ids[i]];
    if (m >= 0) ids[n++] = m;
  }
  return { ids: ids.subarray(0, n), skipped: c.ids.length - n, what: file, unknown };
}

function valIds(corpus: string[], valFrac: number, vocab: string[]): { ids: Int32Array; skipped: number; what: string; unknown: string[] } {
  const missing = corpus.filter((p) => !fs.existsSync(p));
  if (missing.length) throw new RnnError(`the run's corpus ${missing.join(", ")} is gone; give a FILE to evaluate: rnn eval --model RUN FILE`);
  if (!(valFrac > 0)) throw new RnnError(`the run was trained with --val-frac 0, so it has no validation split; give a FILE to evaluate`);
  const c = readCorpus(corpus);
  const { val } = splitTrainVal(c.ids, valFrac);
  const index = new Map(vocab.map((ch, i) => [ch, i]));
  const ids = Int32Array.from(val, (i) => index.get(c.vocab[i]) ?? -1);
  if (ids.some((i) => i < 0)) throw new RnnError(`the run's corpus has changed since training (new characters); give a FILE to evaluate`);
  return { ids, skipped: 0, what: `validation split of ${corpus.join(", ")}`, unknown: [] };
}
