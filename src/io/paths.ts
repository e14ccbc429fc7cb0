// Checks for every path rnn opens or creates, so that no command hangs, grows without bound, or says
// something misleading about a path:
//
//   requireRegularFile   a file rnn is about to read (corpus, --model, --init-from, --config) must be a regular
//                        file: a FIFO blocks a reader forever, /dev/zero never ends, a directory or socket cannot
//                        be read, and a symbolic link loop is not "missing".
//   openRegularFile      the same check on an open descriptor (opened non-blocking, so a FIFO cannot block the
//                        open itself), for readers that must not race a path being swapped after the check.
//   readRegularFile      openRegularFile + read it whole, refusing files above a size bound before reading.
//   ensureDirectory      a directory rnn creates (--out): parents are created one level at a time with the
//                        non-recursive mkdir. Node 20's mkdirSync(p, { recursive: true }) never returns for a path
//                        such as /proc/run, where mkdir says ENOENT although the parent exists (it retries
//                        forever, at 100% CPU, deaf to Ctrl-C); the non-recursive call fails at once.
//
// Every failure is one line — UsageError (exit 2) when opts.usage is set, else RnnError (exit 1) — that names the
// flag or role (`what`), the path, the problem, and the fix.
import * as nodeFs from "node:fs";
import * as nodePath from "node:path";
import { RnnError, UsageError } from "../errors.ts";
import { describeFsError } from "./atomic.ts";

/** The parts of node:fs these checks use; tests inject failing versions (EROFS, EACCES). */
export type PathFs = Pick<typeof nodeFs, "statSync" | "mkdirSync">;

export interface FileCheckOptions {
  /** the fix, when the path is missing or not a regular file (default "check the path" / "give a regular file") */
  hint?: string;
  /** the fix when the path is a directory (default: `hint`, else "give a file, not a directory") */
  ifDirectory?: string;
  /** throw UsageError (exit 2: the command line is wrong) instead of RnnError (exit 1) */
  usage?: boolean;
}

export interface DirectoryOptions {
  /** the fix (default "choose another <what>") */
  fix?: string;
  usage?: boolean;
  /** file system implementation; default node:fs */
  fs?: PathFs;
}

function oneLine(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]+/g, " ");
}

function makeError(msg: string, usage?: boolean): Error {
  return usage ? new UsageError(oneLine(msg)) : new RnnError(oneLine(msg));
}

/** "a named pipe (FIFO)", "a character device", …: what a non-regular file is, in words. */
export function describeKind(st: nodeFs.Stats): string {
  if (st.isFile()) return "a regular file";
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  if (st.isSymbolicLink()) return "a symbolic link";
  return "not a regular file";
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** The one-line error for a failed stat/open of a file to read. */
function fileAccessError(p: string, what: string, err: unknown, opts: FileCheckOptions): Error {
  const q = `${what} '${p}'`;
  switch (code(err)) {
    case "ENOENT":
      return makeError(`${q} does not exist: ${opts.hint ?? "check the path"}`, opts.usage);
    case "ENOTDIR":
      return makeError(`${q} does not exist: a part of its path is not a directory; check the path`, opts.usage);
    case "ELOOP":
      return makeError(`${q} is a symbolic link loop (following its links never reaches a file): fix or remove the link, or give the real path`, opts.usage);
    case "EACCES":
    case "EPERM":
      return makeError(`cannot read ${q}: permission denied; fix its permissions (e.g. chmod u+r) or give another path`, opts.usage);
    case "ENAMETOOLONG":
      return makeError(`${q}: the file name is too long; check the path`, opts.usage);
    default:
      return makeError(`cannot read ${q}: ${describeFsError(err)}`, opts.usage);
  }
}

/** The one-line error for a path that exists but is not a regular file (undefined when it is one). */
function notRegular(p: string, what: string, st: nodeFs.Stats, opts: FileCheckOptions): Error | undefined {
  if (st.isFile()) return undefined;
  const q = `${what} '${p}'`;
  if (st.isDirectory()) return makeError(`${q} is a directory: ${opts.ifDirectory ?? opts.hint ?? "give a file, not a directory"}`, opts.usage);
  return makeError(
    `${q} is ${describeKind(st)}, not a regular file: rnn reads only regular files (a pipe or device may block or never end); ` +
      `${opts.hint ?? "give a regular file"}`,
    opts.usage,
  );
}

/**
 * Throws a one-line error unless `p` (symbolic links followed) is a regular file; returns its stats.
 * Refuses: missing, symbolic link loop (its own message, not "missing"), directory, FIFO, character or block
 * device, socket, unreadable parent. Never opens the path, so it cannot block.
 */
export function requireRegularFile(p: string, what: string, opts: FileCheckOptions & { fs?: PathFs } = {}): nodeFs.Stats {
  const fs = opts.fs ?? nodeFs;
  let st: nodeFs.Stats;
  try {
    st = fs.statSync(p);
  } catch (err) {
    throw fileAccessError(p, what, err, opts);
  }
  const bad = notRegular(p, what, st, opts);
  if (bad) throw bad;
  return st;
}

/**
 * Opens `p` for reading without blocking (O_NONBLOCK: opening a FIFO with no writer returns at once) and checks
 * the open descriptor is a regular file, so a path swapped after a check cannot slip through. Returns the
 * descriptor (blocking mode does not matter for regular files) and its size; the caller closes it.
 */
export function openRegularFile(p: string, what: string, opts: FileCheckOptions = {}): { fd: number; size: number } {
  const { O_RDONLY, O_NONBLOCK } = nodeFs.constants;
  let fd: number;
  try {
    fd = nodeFs.openSync(p, O_RDONLY | (O_NONBLOCK ?? 0));
  } catch (err) {
    throw fileAccessError(p, what, err, opts);
  }
  try {
    const st = nodeFs.fstatSync(fd);
    const bad = notRegular(p, what, st, opts);
    if (bad) throw bad;
    return { fd, size: st.size };
  } catch (err) {
    nodeFs.closeSync(fd);
    throw err;
  }
}

/** Bytes in words: 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/**
 * Reads a regular file whole, refusing it before reading when it is larger than maxBytes (the message names
 * both sizes and `tooLargeHint`). A file that shrinks while being read comes back short; one that grows is cut
 * at its size when opened.
 */
export function readRegularFile(
  p: string,
  what: string,
  opts: FileCheckOptions & { maxBytes: number; tooLargeHint?: string },
): Buffer {
  const { fd, size } = openRegularFile(p, what, opts);
  try {
    if (size > opts.maxBytes) {
      throw makeError(
        `${what} '${p}' is ${formatBytes(size)}, more than rnn reads (${formatBytes(opts.maxBytes)}): ${opts.tooLargeHint ?? "check the path"}`,
        opts.usage,
      );
    }
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      let n: number;
      try {
        n = nodeFs.readSync(fd, buf, got, size - got, got);
      } catch (err) {
        throw makeError(`cannot read ${what} '${p}': ${describeFsError(err)}`, opts.usage);
      }
      if (n === 0) break; // shrank while being read: the caller sees a short (truncated) file
      got += n;
    }
    return got === size ? buf : buf.subarray(0, got);
  } finally {
    nodeFs.closeSync(fd);
  }
}

/**
 * Makes sure directory `p` exists, creating it and any missing parents one level at a time with the
 * non-recursive mkdir (bounded by the path's depth: it cannot spin). Returns the directories it created,
 * outermost first, so a caller whose run fails before writing anything can remove them (removeCreated).
 * Errors, one line each, naming `what` (e.g. "--out") and the fix: the path or a parent is a file; read-only
 * file system; permission denied; a parent that refuses new directories (/proc, /sys); no space; symlink loop.
 */
export function ensureDirectory(p: string, what: string, opts: DirectoryOptions = {}): string[] {
  const fs = opts.fs ?? nodeFs;
  const fix = opts.fix ?? `choose another ${what}`;
  const q = `${what} '${p}'`;
  const abs = nodePath.resolve(p);
  const fail = (why: string): never => {
    throw makeError(`cannot create ${q}: ${why}; ${fix}`, opts.usage);
  };

  // Walk up to the nearest ancestor that exists; everything below it is to be created.
  const missing: string[] = [];
  let cur = abs;
  for (;;) {
    let st: nodeFs.Stats | undefined;
    try {
      st = fs.statSync(cur);
    } catch (err) {
      const c = code(err);
      if (c === "ELOOP") {
        const parentLoops = (() => {
          try {
            fs.statSync(nodePath.dirname(cur));
            return false;
          } catch (e) {
            return code(e) === "ELOOP";
          }
        })();
        const is = cur === abs && !parentLoops ? "is" : "leads through";
        throw makeError(`${q} ${is} a symbolic link loop (following its links never reaches a directory): fix or remove the link, or ${fix}`, opts.usage);
      }
      if (c === "EACCES" || c === "EPERM") fail(`permission denied (cannot look into '${nodePath.dirname(cur)}')`);
      if (c !== "ENOENT" && c !== "ENOTDIR") fail(`'${cur}': ${describeFsError(err)}`);
    }
    if (st) {
      if (st.isDirectory()) break;
      if (cur === abs) throw makeError(`${q} is ${describeKind(st)}, not a directory: ${fix}`, opts.usage);
      fail(`'${cur}' is ${describeKind(st)}, not a directory`);
    }
    missing.push(cur);
    const parent = nodePath.dirname(cur);
    if (parent === cur) fail("its root does not exist"); // unreachable on POSIX: "/" always exists
    cur = parent;
  }

  const created: string[] = [];
  for (const dir of missing.reverse()) {
    const parent = nodePath.dirname(dir);
    try {
      fs.mkdirSync(dir);
      created.push(dir);
      continue;
    } catch (err) {
      const c = code(err);
      if (c === "EEXIST") {
        // created meanwhile by someone else: fine if it is a directory
        let st: nodeFs.Stats | undefined;
        try {
          st = fs.statSync(dir);
        } catch {
          // a dangling symbolic link: exists for mkdir, missing for stat
        }
        if (st?.isDirectory()) continue;
        fail(`'${dir}' exists but is ${st ? describeKind(st) : "a dangling symbolic link"}, not a directory`);
      }
      switch (c) {
        case "EROFS":
          return fail(`read-only file system (at '${parent}'): nothing can be written there`);
        case "EACCES":
        case "EPERM":
          return fail(`permission denied: cannot create directories in '${parent}'`);
        case "ENOENT":
          // the parent exists (we just checked or made it), yet mkdir says ENOENT: /proc, /sys and the like
          return fail(`'${parent}' does not allow new directories (a virtual file system such as /proc or /sys?)`);
        default:
          return fail(`${describeFsError(err)} (creating '${dir}')`);
      }
    }
  }
  return created;
}

/**
 * Removes directories made by ensureDirectory, innermost first, as long as they are empty (best effort): a
 * fresh run that fails before writing anything leaves no empty --out behind.
 */
export function removeCreated(created: string[]): void {
  for (const dir of [...created].reverse()) {
    try {
      nodeFs.rmdirSync(dir);
    } catch {
      return; // not empty (something was written) or already gone: keep it and its parents
    }
  }
}

/**
 * Checks that a file rnn is about to write (diagnose --svg) can be written where it is asked for, before any
 * work is done: its directory exists and is a directory, and the path itself, when it exists, is a regular
 * file (a FIFO or device would be replaced by the atomic rename, or block a plain write). One-line error.
 */
export function requireWritableTarget(p: string, what: string, opts: { usage?: boolean } = {}): void {
  const dir = nodePath.dirname(nodePath.resolve(p));
  let st: nodeFs.Stats | undefined;
  try {
    st = nodeFs.statSync(dir);
  } catch (err) {
    const c = code(err);
    if (c === "ENOENT" || c === "ENOTDIR") throw makeError(`${what} '${p}': its directory '${dir}' does not exist; create it or choose another path`, opts.usage);
    throw makeError(`${what} '${p}': cannot use its directory '${dir}': ${describeFsError(err)}`, opts.usage);
  }
  if (!st.isDirectory()) throw makeError(`${what} '${p}': '${dir}' is ${describeKind(st)}, not a directory; choose another path`, opts.usage);
  let target: nodeFs.Stats | undefined;
  try {
    target = nodeFs.statSync(p);
  } catch {
    return; // to be created (a dangling link or a loop fails at the write, with its own line)
  }
  if (target.isDirectory()) throw makeError(`${what} '${p}' is a directory: give a file name inside it`, opts.usage);
  if (!target.isFile()) throw makeError(`${what} '${p}' is ${describeKind(target)}, not a regular file: rnn writes only regular files; choose another path`, opts.usage);
}
