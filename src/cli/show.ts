// Output helpers of the commands that ask a model (predict, score, info): where output goes, whether it is
// coloured, how an invisible character is shown, byte sizes.
import chalk, { Chalk, type ChalkInstance } from "chalk";

/** Where a command writes. Tests pass their own; the CLI uses defaultIo(). */
export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** colour and heat maps on stdout */
  color: boolean;
}

/**
 * Colour on stdout when it is a terminal, unless NO_COLOR is set (to anything but ""); FORCE_COLOR (≠ "0")
 * turns it on anywhere.
 */
export function stdoutColor(env: NodeJS.ProcessEnv = process.env, isTTY = !!process.stdout.isTTY): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" ) return env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false";
  return isTTY;
}

/**
 * The Io a command was given, else the process's. Commander calls an action with (args…, options, command),
 * so a command registered as `.action(predictCommand)` gets the Command where a test passes its Io.
 */
export function ioOf(io: unknown): Io {
  const o = io as Partial<Io> | undefined;
  return o && typeof o.out === "function" && typeof o.err === "function" && typeof o.color === "boolean" ? (o as Io) : defaultIo();
}

export function defaultIo(): Io {
  return {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    color: stdoutColor(),
  };
}

/** A chalk for io.out: colours exactly when io.color (at least 256 colours when forced onto a non-terminal). */
export function chalkFor(io: Io): ChalkInstance {
  return new Chalk({ level: io.color ? chalk.level || 2 : 0 });
}

const NAMED: Record<string, string> = { "\n": "\\n", "\t": "\\t", "\r": "\\r", " ": "␣", "\f": "\\f", "\v": "\\v", "\b": "\\b", "\0": "\\0" };

/**
 * One character as it can be seen in a table: `\n`, `\t`, `\r`, `␣` for a space, `\u{…}` for other controls,
 * format characters (zero-width, BOM, bidi marks) and unusual spaces; a lone combining mark on a dotted circle.
 */
export function showChar(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  if (/^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u.test(ch)) return `\\u{${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}}`;
  if (/^\p{M}$/u.test(ch)) return `◌${ch}`;
  return ch;
}

/**
 * A text for a quoted context line: every character shown by showChar except spaces, which stay spaces (the
 * quotes show where it ends), cut to its last `max` characters (… in front).
 */
export function showText(text: string, max = 60): string {
  const cs = [...text];
  const cut = cs.length > max;
  return (cut ? "…" : "") + cs.slice(cut ? cs.length - max : 0).map((c) => (c === " " ? c : showChar(c))).join("");
}

/** Terminal columns of a short string: 2 for wide (CJK, emoji) characters, 0 for combining marks. */
export function columns(s: string): number {
  let n = 0;
  for (const ch of s) {
    if (/\p{M}/u.test(ch)) continue;
    n += /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]|\p{Extended_Pictographic}/u.test(ch) ? 2 : 1;
  }
  return n;
}

export function padEnd(s: string, width: number): string {
  return s + " ".repeat(Math.max(0, width - columns(s)));
}

/** 1234567 → "1.2 MB" (decimal units, as ls -h --si and most file managers) */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n, u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}

/** A probability with 4 significant places where it matters: 0.9731, 0.0042, 3.1e-7 */
export function prob(p: number): string {
  if (p === 0) return "0";
  return p >= 1e-4 ? p.toFixed(4) : p.toExponential(1);
}

/** A horizontal bar of frac × width cells, in eighths of a cell. */
export function bar(frac: number, width: number): string {
  const eighths = Math.round(Math.max(0, Math.min(1, frac)) * width * 8);
  const full = Math.floor(eighths / 8), part = eighths % 8;
  return "█".repeat(full) + (part ? "▏▎▍▌▋▊▉"[part - 1] : "");
}
