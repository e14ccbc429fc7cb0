// The run directory: what `rnn train` writes into --out, and the rules about it, in one place.
//
//   DIR/latest.safetensors        the model at the newest checkpoint (src/checkpoint/checkpoint.ts)
//   DIR/latest.state.safetensors  everything else resume needs: optimizer slab, carried hidden state, counters
//   DIR/next.state.safetensors    the state of a save in progress (see saveRun: a crash leaves a usable pair)
//   DIR/best.safetensors          the model at the best validation loss so far
//   DIR/step-000123.safetensors   step checkpoints, the newest --keep of them
//   DIR/metrics.jsonl, loss.svg   one line per evaluation, and its plot (src/train/metrics.ts)
//   DIR/samples.jsonl             with --sample-every: one sample per line (src/train/samples.ts)
//   DIR/.lock                     held by the one `rnn train` using the directory (src/run/lock.ts), removed when it ends
//
// A directory "holds a run" when it has any of these files (the lock aside). Nothing else in it is ever touched.
import fs from "node:fs";
import path from "node:path";
import { UsageError } from "../errors.ts";
import { cleanStaleTemps } from "../io/atomic.ts";
import { describeKind, ensureDirectory, removeCreated } from "../io/paths.ts";
import { acquireRunLock } from "./lock.ts";

export const LATEST = "latest.safetensors";
export const BEST = "best.safetensors";
export const STATE = "latest.state.safetensors";
export const NEXT_STATE = "next.state.safetensors";
export const METRICS = "metrics.jsonl";
export const LOSS_SVG = "loss.svg";
export const SAMPLES = "samples.jsonl";

/** The name of the step checkpoint of step `step`: step-000123.safetensors. */
export function stepFile(step: number): string {
  return `step-${String(step).padStart(6, "0")}.safetensors`;
}

const STEP_FILE = /^step-\d+\.safetensors$/;
const RUN_FILES = /^(latest|best|step-\d+|latest\.state|next\.state)\.safetensors$|^metrics\.jsonl$|^loss\.svg$|^samples\.jsonl$/;

/** True for the names of the files a run writes (the list above). */
export function isRunFile(name: string): boolean {
  return RUN_FILES.test(name);
}

/** True when DIR exists and holds any file of a run. */
export function isRun(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some(isRunFile);
  } catch {
    return false;
  }
}

/** The default --out: runs/<corpus name>-<cell>, with -2, -3… appended when that run exists already. */
export function defaultOut(corpus: string, cell: string): string {
  const base = path.join("runs", `${path.basename(corpus).replace(/\.[^.]*$/, "").replace(/[^\w.-]+/g, "_") || "run"}-${cell}`);
  let out = base;
  for (let i = 2; isRun(out); i++) out = `${base}-${i}`;
  return out;
}

/** --out of a new run: refuses a file, and a directory that holds a run unless `force`. Deletes nothing. */
export function checkOutDir(dir: string, force: boolean): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir);
  } catch {
    // missing (it is created), or a path ensureDirectory explains (a loop, a parent that is a file)
  }
  if (st && !st.isDirectory()) throw new UsageError(`--out ${dir} is ${describeKind(st)}, not a directory: choose another --out`);
  if (!force && isRun(dir)) {
    throw new UsageError(`${dir} already holds a run: continue it with --resume ${dir}, overwrite it with --force, or choose another --out`);
  }
}

/** checkOutDir, then (with `force`) removes the files of the run there. Only with the directory's lock held. */
export function prepareOutDir(dir: string, force: boolean): void {
  checkOutDir(dir, force);
  if (force) for (const f of fs.readdirSync(dir)) if (isRunFile(f)) fs.rmSync(path.join(dir, f), { force: true });
}

/** --resume must name a run directory: one line saying what it is instead. */
export function checkRunDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new UsageError(`--resume '${dir}' does not exist: give the run directory of an earlier rnn train (its --out)`);
  }
  if (!st.isDirectory()) throw new UsageError(`--resume '${dir}' is a file: give the run directory that holds it (its --out)`);
  if (!fs.existsSync(path.join(dir, LATEST))) {
    throw new UsageError(`--resume '${dir}' is not a run directory: it has no ${LATEST} (start a new run with --out ${dir})`);
  }
}

/**
 * Makes DIR (and its parents) for training, and removes the temp files of saves that were killed midway
 * (kill -9, power cut). Returns the directories it created, outermost first (for removeCreated). The
 * directories are made one level at a time (ensureDirectory): a path such as /proc/run fails at once with one
 * line, where Node 20's recursive mkdir spins forever, deaf to Ctrl-C.
 */
export function openRunDir(dir: string): string[] {
  const created = ensureDirectory(dir, "--out");
  cleanStaleTemps(dir);
  return created;
}

/** A run directory claimed by one `rnn train` (claimRunDir). */
export interface RunDirClaim {
  /** the directories claimRunDir created for a new run, outermost first */
  created: string[];
  /** releases the lock; after a failed new run, also removes the directories it created if they are still empty */
  release(failed: boolean): void;
}

/**
 * Claims DIR for one `rnn train` before anything in it is touched: makes it (a new run), takes its lock (one
 * trainer per directory: a second gets one line naming the pid that holds it), and only then, for a new run,
 * refuses a run that is there (without `force`) or removes its files (with `force`: never the lock). The lock is
 * held until release(), or until the process exits.
 */
export function claimRunDir(dir: string, mode: "new" | "force" | "resume"): RunDirClaim {
  const created = mode === "resume" ? [] : ensureDirectory(dir, "--out");
  let lock;
  try {
    lock = acquireRunLock(dir);
  } catch (e) {
    removeCreated(created);
    throw e;
  }
  const release = (failed: boolean) => {
    lock.release();
    if (failed) removeCreated(created);
  };
  if (mode !== "resume") {
    try {
      prepareOutDir(dir, mode === "force");
    } catch (e) {
      release(true);
      throw e;
    }
  }
  return { created, release };
}

/** Keeps the `keep` newest DIR/step-NNNNNN.safetensors. */
export function pruneStepCheckpoints(dir: string, keep: number): void {
  const files = fs.readdirSync(dir).filter((f) => STEP_FILE.test(f)).sort();
  for (const f of files.slice(0, Math.max(0, files.length - keep))) fs.rmSync(path.join(dir, f), { force: true });
}
