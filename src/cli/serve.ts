// `rnn serve [RUN...]`: the dashboard of the runs under --dir (or of the runs named), live while they train, and
// each run's playground (src/web/server.ts). Loopback only unless --host says otherwise, with one line of
// warning then. Runs until Ctrl-C.
import fs from "node:fs";
import chalk from "chalk";
import { SERVE_DEFAULTS } from "../config.ts";
import { RnnError, UsageError } from "../errors.ts";
import { isRun } from "../run/dir.ts";
import { findRuns, isLoopback, startServer } from "../web/server.ts";
import type { FlagsOf } from "./options.ts";

export type ServeFlags = FlagsOf<"serve">;

/** The one line `rnn serve` prints (stderr) when told to listen where other machines can reach it. */
export function hostWarning(host: string): string | null {
  return isLoopback(host) ? null : `rnn: warning: listening on ${host}, not loopback: anyone who can reach this machine can read these runs (there is no login)`;
}

export async function serveCommand(runArgs: string[], flags: ServeFlags): Promise<void> {
  let dir = flags.dir ?? SERVE_DEFAULTS.dir;
  const host = flags.host ?? SERVE_DEFAULTS.host, port = flags.port ?? SERVE_DEFAULTS.port;
  const isDir = fs.existsSync(dir) && fs.statSync(dir).isDirectory();
  if (!isDir && runArgs.length && flags.dir === undefined) dir = "."; // runs named, and no runs/ here
  else if (!isDir) {
    throw new UsageError(`--dir ${dir} is not a directory: train a run first (rnn train FILE writes runs/<name>), or give --dir`);
  }
  for (const r of runArgs) if (!isRun(r)) throw new UsageError(`'${r}' is not a run directory (no checkpoint or metrics.jsonl in it)`);
  const warning = hostWarning(host);
  if (warning) process.stderr.write(`${chalk.yellow(warning)}\n`);
  let server;
  try {
    server = await startServer({ dir, runs: runArgs, host, port });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "EADDRINUSE" ? "the port is taken (--port 0 picks a free one)" : err.code === "EADDRNOTAVAIL" ? "no such address on this machine" : err.code === "EACCES" ? "permission denied (ports below 1024 need root)" : err.message;
    throw new RnnError(`cannot listen on ${host}:${port}: ${why}`);
  }
  const n = runArgs.length || findRuns(dir).length;
  process.stdout.write(`${server.url}\n`);
  process.stderr.write(`rnn serve: ${n} run${n === 1 ? "" : "s"} ${runArgs.length ? "named" : `under ${dir}`} (new ones appear as they start); read-only; Ctrl-C stops\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void server.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
