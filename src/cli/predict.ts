// `rnn predict --model M TEXT`: the distribution of the character after TEXT, as a bar chart or --json.
import chalk from "chalk";
import { UsageError } from "../errors.ts";
import { selectKernels, type KernelChoice } from "../kernels/index.ts";
import { loadModel } from "../checkpoint/checkpoint.ts";
import { predictNext, type Prediction } from "../ask/predict.ts";
import { bar, chalkFor, ioOf, type Io, padEnd, prob, showChar, showText } from "./show.ts";

export interface PredictFlags {
  model: string;
  /** how many of the most likely characters to list, 0 = all (default 10) */
  topK?: number;
  temperature?: number;
  json?: boolean;
  kernels?: KernelChoice;
}

const BAR = 40;

export async function predictCommand(text: string, flags: PredictFlags, ioArg?: Io): Promise<void> {
  const io = ioOf(ioArg);
  if (typeof text !== "string") throw new UsageError("give the TEXT to continue: rnn predict --model RUN 'ABCABCAB'");
  const ops = await selectKernels(flags.kernels);
  const { model, meta } = loadModel(flags.model, ops);
  const r = predictNext(model, meta.vocab, text, { temperature: flags.temperature ?? 1, topK: flags.topK ?? 10 });
  if (r.skipped > 0 && r.context !== "text") {
    throw new UsageError(`TEXT has no character the model knows (${list(r.unknown)}); use characters of the training text`);
  }
  if (r.skipped > 0) {
    io.err(`${chalk.yellow("rnn: warning:")} ${r.skipped} character${r.skipped === 1 ? "" : "s"} of TEXT outside the model's vocabulary left out: ${list(r.unknown)}\n`);
  }
  if (flags.json) {
    io.out(`${JSON.stringify(toJson(text, r))}\n`);
    return;
  }
  io.out(render(text, r, io));
}

function list(chars: string[]): string {
  return chars.slice(0, 10).map((c) => JSON.stringify(c)).join(", ") + (chars.length > 10 ? ", …" : "");
}

export function toJson(text: string, r: Prediction) {
  return {
    text,
    fed: r.fed,
    context: r.context,
    temperature: r.temperature,
    top: r.top.map((c) => ({ char: c.char, id: c.id, p: c.p })),
    rest: r.rest,
    total: r.total,
    entropy: r.entropy,
    vocabSize: r.vocabSize,
    unknown: r.unknown,
    skipped: r.skipped,
  };
}

/** The human form: a header, one bar per listed character, the rest, the entropy. */
export function render(text: string, r: Prediction, io: Io): string {
  const c = chalkFor(io);
  const after = r.context === "text" ? `after "${showText(r.fed)}"` : r.context === "newline" ? "at the start of a line (after \\n)" : "with no context (uniform, as sampling starts)";
  const lines = [`${c.bold("next character")} ${after}${r.temperature !== 1 ? ` · temperature ${r.temperature}` : ""}`];
  const shown = r.top.map((t) => showChar(t.char));
  const w = Math.max(4, ...shown.map((s) => [...s].length));
  r.top.forEach((t, i) => {
    const label = padEnd(shown[i], w);
    lines.push(`  ${c.bold(label)}  ${prob(t.p).padStart(7)}  ${c.cyan(bar(t.p, BAR))}`);
  });
  if (r.rest.count > 0) {
    lines.push(c.dim(`  ${padEnd("rest", w)}  ${prob(r.rest.p).padStart(7)}  over ${r.rest.count} other character${r.rest.count === 1 ? "" : "s"}, none above ${prob(r.rest.max)}`));
  }
  lines.push(c.dim(`  entropy ${(r.entropy / Math.LN2).toFixed(3)} bits · ${r.vocabSize} characters in the vocabulary`));
  return lines.join("\n") + "\n";
}
