// `rnn info RUN|FILE`: what a run directory or checkpoint holds, for people or (--json) for scripts.
import { runInfo, type RunInfo } from "../ask/info.ts";
import { duration, human } from "./common.ts";
import { bytes, chalkFor, ioOf, type Io, showChar } from "./show.ts";

export interface InfoFlags {
  json?: boolean;
}

export async function infoCommand(p: string, flags: InfoFlags, ioArg?: Io): Promise<void> {
  const io = ioOf(ioArg);
  const info = runInfo(p);
  if (flags.json) {
    io.out(`${JSON.stringify(info, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v))}\n`);
    return;
  }
  io.out(renderInfo(info, io));
}

/** The vocabulary in one line, invisible characters escaped, cut after about `max` columns. */
export function vocabPreview(chars: string[], max = 72): string {
  let s = "", n = 0;
  for (let i = 0; i < chars.length; i++) {
    const shown = showChar(chars[i]);
    if ([...s].length + [...shown].length > max) return `${s} … (+${chars.length - n} more)`;
    s += shown;
    n++;
  }
  return s;
}

const loss = (v: number | null) => (v === null ? "–" : `${v.toFixed(4)} nats/char (${(v / Math.LN2).toFixed(3)} bits/char)`);

export function renderInfo(info: RunInfo, io: Io): string {
  const c = chalkFor(io);
  const rows: [string, string][] = [];
  const m = info.model;
  rows.push(["model", `${m.description} · ${m.parameters.toLocaleString("en-US")} parameters`]);
  rows.push(["vocabulary", `${info.vocab.size} characters: ${vocabPreview(info.vocab.chars)}`]);
  rows.push(["trained", `step ${info.step}${info.epoch !== null ? ` · ${info.epoch} epoch${info.epoch === 1 ? "" : "s"} and ${info.chunk} chunk${info.chunk === 1 ? "" : "s"}` : ""}`]);
  rows.push(["validation", `best ${loss(info.bestValLoss)}${info.best ? ` (best.safetensors: step ${info.best.step})` : ""} · last ${info.lastValLoss === null ? "–" : info.lastValLoss.toFixed(4)}`]);
  const k = info.calibration;
  if (k) rows.push(["calibrated", `temperature ${k.temperature.toFixed(3)}, fitted on ${k.chars.toLocaleString("en-US")} held-out characters: ${k.lossBefore.toFixed(4)} → ${k.lossAfter.toFixed(4)} nats/char there`]);
  rows.push(["corpus", info.corpus.length ? info.corpus.map((k) => `${k.path} (${k.bytes === null ? "gone" : bytes(k.bytes)})`).join(", ") : "–"]);
  rows.push(["config", wrap(configLine(info), 92).join(`\n${" ".repeat(14)}`)]);
  const auto = info.config.autoSize;
  if (auto) {
    const r = auto.replanned;
    const again = r && (r.times ?? 1) > 1 ? ` ${r.times} times, the last` : "";
    const replanned = r ? `; planned again${again} at step ${r.step} (${duration(r.elapsed)}) from the run's own ${human(r.charsPerSec)} chars/s: ${r.was} → ${r.steps} steps` : "";
    const text = `for --time ${duration(auto.budget)} at ${human(auto.charsPerSec)} chars/s; ${auto.reference}${replanned}; rule: ${auto.rule}`;
    rows.push(["auto-sized", wrap(text, 92).join(`\n${" ".repeat(14)}`)]);
  }
  const width = Math.max(...info.files.map((f) => f.name.length));
  const head = `${c.bold(info.file)}${info.runDir ? c.dim(` in run directory ${info.runDir}`) : ""}`;
  const lines = [head, ...rows.map(([k, v]) => `  ${c.bold(k.padEnd(10))}  ${v}`), `  ${c.bold("files")}`];
  for (const f of info.files) lines.push(`    ${f.name.padEnd(width)}  ${bytes(f.bytes).padStart(8)}`);
  return lines.join("\n") + "\n";
}

/** The configuration as key=value pairs, the model's keys first (the full, nested form is in --json). */
function configLine(info: RunInfo): string {
  const { model, corpus: _corpus, autoSize: _auto, ...rest } = info.config; // autoSize: a row of its own
  const flat = { ...model, ...rest } as Record<string, unknown>;
  return Object.entries(flat)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
}

/** Breaks a line of space-separated words into lines of at most `width` characters. */
function wrap(line: string, width: number): string[] {
  const out: string[] = [];
  let cur = "";
  for (const w of line.split(" ")) {
    if (cur && cur.length + 1 + w.length > width) {
      out.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) out.push(cur);
  return out;
}
