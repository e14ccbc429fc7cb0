// What every command shares: turning errors into one line and an exit code, number formatting.
import os from "node:os";
import chalk from "chalk";
import { RnnError, UsageError } from "../errors.ts";

/** Exit codes, documented in the README. */
export const EXIT = { ok: 0, runtime: 1, usage: 2, interrupted: 130 } as const;

/** Prints one line for an error and returns its exit code. Never a stack trace, unless RNN_DEBUG is set. */
export function reportError(err: unknown): number {
  const debug = !!process.env.RNN_DEBUG;
  if (err instanceof UsageError) {
    process.stderr.write(`${chalk.red("rnn: error:")} ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof RnnError) {
    process.stderr.write(`${chalk.red("rnn: error:")} ${err.message}\n`);
    if (debug) process.stderr.write(`${err.stack}\n`);
    return EXIT.runtime;
  }
  const e = err as NodeJS.ErrnoException;
  const msg = e?.code === "ENOSPC" ? "no space left on device" : e?.code === "EACCES" ? `permission denied${e.path ? `: ${e.path}` : ""}` : String(e?.message ?? err).split("\n")[0];
  process.stderr.write(`${chalk.red("rnn: error:")} ${msg}${debug ? "" : " (set RNN_DEBUG=1 for details)"}\n`);
  if (debug) process.stderr.write(`${e?.stack}\n`);
  return EXIT.runtime;
}

/** The default of --threads: every core. */
export const everyCore = (): number => os.availableParallelism?.() ?? os.cpus().length;

export { duration, human } from "../format.ts";
