// `rnn score --model M FILE` / `--text TEXT`: every character's surprisal, as the text coloured by it (a heat
// map) with the totals, or --json: one JSON line per character, then one line with the totals.
import chalk, { type ChalkInstance } from "chalk";
import { RnnError, UsageError } from "../errors.ts";
import { selectKernels, type KernelChoice } from "../kernels/index.ts";
import { loadModel } from "../checkpoint/checkpoint.ts";
import { type CharScore, scoreText, type ScoreResult } from "../ask/score.ts";
import { readCorpusText } from "./read.ts";
import { chalkFor, ioOf, type Io, showChar } from "./show.ts";

export interface ScoreFlags {
  model: string;
  /** score this text instead of a FILE */
  text?: string;
  json?: boolean;
  kernels?: KernelChoice;
}

/** Upper bounds (bits) of the heat map's steps; the last step is everything above the last bound. */
export const HEAT_BITS = [0.5, 1, 2, 4, 8] as const;
/** 256-colour backgrounds of the steps, pale green (expected) → red (surprising); text on them is black. */
const HEAT_BG = [157, 193, 229, 222, 209, 196] as const;

export async function scoreCommand(file: string | undefined, flags: ScoreFlags, ioArg?: Io): Promise<void> {
  const io = ioOf(ioArg);
  if (file !== undefined && flags.text !== undefined) throw new UsageError("give a FILE or --text TEXT, not both");
  if (file === undefined && flags.text === undefined) throw new UsageError("give a FILE to score, or --text TEXT: rnn score --model RUN notes.txt");
  // a file is read as eval reads it (strict UTF-8, a BOM dropped), so both score the same characters
  const text = file !== undefined ? readCorpusText(file) : flags.text!;
  const what = file ?? "text";
  const ops = await selectKernels(flags.kernels);
  const { model, meta } = loadModel(flags.model, ops);
  const r = scoreText(model, meta.vocab, text);
  if (r.totals.count === 0) {
    // nothing to score: one line, before any warning. Too short a --text is a command-line mistake (exit 2),
    // too short a FILE a problem with the file (exit 1, as rnn eval)
    const known = r.chars.length - r.totals.unknown;
    const msg = `${file !== undefined ? file : "--text"} has ${known} character${known === 1 ? "" : "s"} the model knows; score needs at least 2`;
    throw file !== undefined ? new RnnError(msg) : new UsageError(msg);
  }
  if (r.totals.unknown > 0) {
    const list = r.unknownChars.slice(0, 10).map((c) => JSON.stringify(c)).join(", ") + (r.unknownChars.length > 10 ? ", …" : "");
    io.err(`${chalk.yellow("rnn: warning:")} ${r.totals.unknown} character${r.totals.unknown === 1 ? "" : "s"} outside the model's vocabulary not scored: ${list}\n`);
  }
  if (flags.json) {
    const lines = r.chars.map((c) => JSON.stringify({ index: c.index, char: c.char, known: c.known, surprisal: c.surprisal }));
    const t = r.totals;
    lines.push(JSON.stringify({ total: { nats: t.nats, loss: t.loss, bpc: t.bpc, perplexity: t.perplexity, count: t.count, unknown: t.unknown, chars: t.chars } }));
    io.out(lines.join("\n") + "\n");
    return;
  }
  io.out(renderScore(what, r, io));
}


/** Heat-map step of a surprisal in nats. */
export function heatLevel(nats: number): number {
  const bits = nats / Math.LN2;
  let k = 0;
  while (k < HEAT_BITS.length && bits >= HEAT_BITS[k]) k++;
  return k;
}

/**
 * The human form. In colour: the text on backgrounds by surprisal (a newline as ↵ before the line break,
 * other invisible characters escaped), unknown characters in inverse magenta, the first character plain;
 * then a legend line. Without colour: the text as it is, unknown characters between ⟦ ⟧. Then the totals.
 */
export function renderScore(what: string, r: ScoreResult, io: Io): string {
  const c = chalkFor(io);
  let out = io.color ? heatText(r.chars, c) : plainText(r.chars);
  if (!out.endsWith("\n")) out += "\n";
  if (io.color) out += legend(c, r.totals.unknown > 0) + "\n";
  else if (r.totals.unknown > 0) out += "⟦ ⟧ marks characters outside the model's vocabulary (not scored)\n";
  out += surprises(r.chars, c);
  const t = r.totals;
  out +=
    `${c.bold(what)}: ${c.cyan(t.nats.toFixed(2))} nats in all · ${c.cyan(t.loss.toFixed(4))} nats/char · ${c.cyan(t.bpc.toFixed(4))} bits/char · ` +
    `perplexity ${t.perplexity.toFixed(3)} · ${t.count} characters scored${t.unknown ? c.yellow(` · ${t.unknown} outside the vocabulary`) : ""}\n`;
  return out;
}

/** The `n` most surprising characters, each with the text before it, most surprising first. */
function surprises(chars: CharScore[], c: ChalkInstance, n = 5): string {
  const scored = chars.filter((ch) => ch.surprisal !== null).sort((a, b) => b.surprisal! - a.surprisal! || a.index - b.index);
  if (scored.length === 0) return "";
  const lines = scored.slice(0, n).map((ch) => {
    const before = chars.slice(Math.max(0, ch.index - 24), ch.index).map((x) => (x.char === " " ? " " : showChar(x.char))).join("");
    const bits = (ch.surprisal! / Math.LN2).toFixed(2).padStart(6);
    return `  ${bits} bits  ${c.bold(showChar(ch.char))} after "${ch.index > 24 ? "…" : ""}${before}"`;
  });
  return `${c.dim("most surprising:")}\n${lines.join("\n")}\n`;
}

function plainText(chars: CharScore[]): string {
  return chars.map((ch) => (ch.known ? ch.char : `⟦${ch.char}⟧`)).join("");
}

function heatText(chars: CharScore[], c: ChalkInstance): string {
  const styles = HEAT_BG.map((bg, k) => (k === HEAT_BG.length - 1 ? c.bgAnsi256(bg).whiteBright.bold : c.bgAnsi256(bg).black));
  const unknown = c.bgMagenta.whiteBright;
  let out = "";
  // runs of characters with the same style, so a line is a few escape sequences, not one per character
  let run = "", style: ChalkInstance | null = null, runKey = -2;
  const flush = () => {
    if (run) out += style ? style(run) : run;
    run = "";
  };
  for (const ch of chars) {
    const key = !ch.known ? -1 : ch.surprisal === null ? -2 : heatLevel(ch.surprisal);
    if (key !== runKey) {
      flush();
      runKey = key;
      style = key === -1 ? unknown : key === -2 ? null : styles[key];
    }
    if (ch.char === "\n") {
      run += "↵";
      flush();
      out += "\n";
    } else if (ch.char === " ") run += " ";
    else {
      const shown = showChar(ch.char);
      run += shown === ch.char ? ch.char : shown;
    }
  }
  flush();
  return out;
}

function legend(c: ChalkInstance, unknown: boolean): string {
  const names = HEAT_BITS.map((b, k) => (k === 0 ? `<${b}` : `${HEAT_BITS[k - 1]}–${b}`));
  names.push(`≥${HEAT_BITS[HEAT_BITS.length - 1]}`);
  const chips = names.map((n, k) => (k === names.length - 1 ? c.bgAnsi256(HEAT_BG[k]).whiteBright.bold : c.bgAnsi256(HEAT_BG[k]).black)(` ${n} `));
  return c.dim("surprisal, bits: ") + chips.join("") + c.dim(" · ↵ newline") + (unknown ? ` · ${c.bgMagenta.whiteBright(" x ")}${c.dim(" outside the vocabulary")}` : "") + c.dim(" · uncoloured: first character, nothing to predict it from");
}
