// Running the real `rnn` binary from tests: spawn `node bin/rnn.js ...` with a timeout and collect its exit
// code, stdout and stderr; or run main() in this process (runMain). Also: a small deterministic corpus generator, temp dirs, file hashes.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, vi } from "vitest";
import { makeRng } from "../../src/rng.ts";

export const BIN = fileURLToPath(new URL("../../bin/rnn.js", import.meta.url));

/** A model that trains a step in about a millisecond: each spawned `rnn train` takes well under a second. */
export const SMALL = ["--hidden", "16", "--layers", "1", "--batch", "4", "--seq", "8"];

export interface CliResult {
  /** exit code, null when killed by a signal */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** true when the helper killed it for running past its timeout */
  timedOut: boolean;
}

export interface RunOptions {
  cwd?: string;
  /** default 20 s; the child gets SIGKILL after that */
  timeoutMs?: number;
  env?: Record<string, string>;
  /** POSIX shell commands run first, in the shell that then execs rnn (e.g. "ulimit -f 40") */
  shellPrefix?: string;
}

export interface Running {
  child: ChildProcess;
  /** resolves when the process has exited and its pipes are drained */
  result: Promise<CliResult>;
  /** resolves with the first complete stdout line satisfying pred (rejects if the process ends first) */
  waitForLine(pred: (line: string) => boolean): Promise<string>;
}

/** Starts `node bin/rnn.js ...args`. Colours off, no TTY: output is what a pipe or a log file sees. */
export function startRnn(args: string[], opts: RunOptions = {}): Running {
  const [cmd, argv] = opts.shellPrefix
    ? ["/bin/sh", ["-c", `${opts.shellPrefix} && exec "$@"`, "sh", process.execPath, BIN, ...args]]
    : [process.execPath, [BIN, ...args]];
  const child = spawn(cmd, argv, {
    cwd: opts.cwd,
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", RNN_DEBUG: "", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "", timedOut = false;
  const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  const lines: string[] = []; // complete stdout lines so far, so a late waiter still finds an earlier match
  const chunks: string[] = []; // stdout as it came, joined once at the end
  let partial = ""; // the unfinished last line
  // Lines are split from this chunk alone (plus the unfinished line before it), never from all of stdout so far:
  // a line sliced from a growing stdout string keeps that whole string alive, so a run printing a JSON line
  // per step (the browser test's live run) held a new copy of its output per chunk, gigabytes within seconds.
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    chunks.push(d);
    const parts = (partial + d).split("\n");
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].pred(line)) waiters.splice(i, 1)[0].resolve(line);
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, opts.timeoutMs ?? 120_000);
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0)) w.reject(new Error(`rnn exited (code ${code}, signal ${signal}) before the awaited line; stderr: ${stderr}`));
      resolve({ code, signal, stdout: chunks.join(""), stderr, timedOut });
    });
  });
  return {
    child,
    result,
    waitForLine(pred) {
      const hit = lines.find(pred);
      if (hit !== undefined) return Promise.resolve(hit);
      if (child.exitCode !== null || child.signalCode !== null) return Promise.reject(new Error("rnn has already exited"));
      return new Promise((resolve, reject) => waiters.push({ pred, resolve, reject }));
    },
  };
}

/** Runs the CLI in this process (main(), no spawn: fast); returns its exit code and what it printed. */
export async function runMain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "", stderr = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    const { main } = await import("../../src/cli/main.ts"); // loaded by the tests that run it in process only
    const code = await main(["node", "rnn", ...args]);
    return { code, stdout, stderr };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

/** Runs `node bin/rnn.js ...args` to completion. */
export function rnn(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return startRnn(args, opts).result;
}

/** A JSON event line of `rnn train --json` of the given type (and, for "step", at least that step). */
export function isEvent(type: string, minStep = 0) {
  return (line: string): boolean => {
    try {
      const e = JSON.parse(line);
      return e.type === type && (type !== "step" || e.step >= minStep);
    } catch {
      return false;
    }
  };
}

/** Parses `--json` stdout into events; throws on any line that is not JSON. */
export function events(stdout: string): { type: string; [k: string]: unknown }[] {
  return stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

/** A fresh directory under the OS temp dir; removed by cleanup(). */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rnn-${prefix}-`));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const WORDS = ["the", "king", "and", "queen", "of", "a", "small", "river", "town", "sang", "to", "every", "bird", "in", "May", "but", "not", "we"];

/** Deterministic pseudo-English of exactly `chars` characters (vocabulary of about 25), written to dir/name. */
export function makeCorpus(dir: string, chars: number, name = "corpus.txt", seed = 1): string {
  const rng = makeRng(seed);
  let s = "";
  while (s.length < chars) {
    const n = 4 + rng.int(8);
    const words = Array.from({ length: n }, () => WORDS[rng.int(WORDS.length)]);
    s += words.join(" ") + (rng.next() < 0.3 ? ",\n" : ".\n");
  }
  const file = path.join(dir, name);
  fs.writeFileSync(file, s.slice(0, chars));
  return file;
}

/** name → sha256 of every regular file in dir (sorted by name); {} when dir does not exist. */
export function snapshot(dir: string, filter: (name: string) => boolean = () => true): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (filter(name) && fs.statSync(p).isFile()) out[name] = createHash("sha256").update(fs.readFileSync(p)).digest("hex");
  }
  return out;
}

/** `rnn ARGS` that must succeed quietly: exit code 0 and nothing on stderr (a failure names the command). */
export async function rnnOk(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const r = await rnn(args, opts);
  const what = `rnn ${args.join(" ")}`;
  expect(r.stderr, what).toBe("");
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
  return r;
}

/** A maker of fresh numbered folders under root (w0, w1, …), one per call. */
export function workdirs(root: string): () => string {
  let made = 0;
  return () => {
    const d = path.join(root, `w${made++}`);
    fs.mkdirSync(d);
    return d;
  };
}

const RUN_FILE = /\.safetensors$/;

/**
 * The resume check: `total` steps in one go in one fresh folder, and `first` steps then `--resume run --steps
 * total` in another, both as `rnn train CORPUS --out run -q ...flags` (the resumed half gets only
 * resumeFlags: the run's config carries the rest). Returns each run's .safetensors files by sha256 and the
 * split run's folder.
 */
export async function splitVsWhole(o: {
  corpus: string; workdir: () => string; flags: readonly string[]; first: number; total: number; resumeFlags?: readonly string[]; timeoutMs?: number;
}): Promise<{ whole: Record<string, string>; split: Record<string, string>; dir: string }> {
  const whole = o.workdir(), split = o.workdir();
  const ok = (args: string[], cwd: string) => rnnOk(args, { cwd, timeoutMs: o.timeoutMs });
  const train = (cwd: string, steps: number) => ok(["train", o.corpus, "--out", "run", "-q", ...o.flags, "--steps", String(steps)], cwd);
  await Promise.all([
    train(whole, o.total),
    train(split, o.first).then(() => ok(["train", o.corpus, "--resume", "run", "--steps", String(o.total), "-q", ...(o.resumeFlags ?? [])], split)),
  ]);
  const files = (d: string) => snapshot(path.join(d, "run"), (n) => RUN_FILE.test(n));
  return { whole: files(whole), split: files(split), dir: path.join(split, "run") };
}

/** stderr without ANSI colour codes, split into non-empty lines. */
export function errLines(stderr: string): string[] {
  return stderr.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").split("\n").filter((l) => l.trim() !== "");
}

/** Resolves after ms milliseconds. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
