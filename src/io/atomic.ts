// Crash-safe file writes. A save never leaves a half-written target behind: the bytes go to a temp file in the
// same directory, the temp is fsynced, renamed over the target (rename is atomic within one file system), and the
// directory is fsynced so the rename itself survives a power cut. A crash at any point leaves either the old
// complete target or the new complete target, plus at worst a stale temp that cleanStaleTemps removes later.
//
// Temp names: `.${base}.tmp-${pid}-${counter}` next to the target. All writes here are synchronous, so a temp
// carrying this process's own pid is never in flight when cleanStaleTemps runs.
import * as nodeFs from "node:fs";
import * as nodePath from "node:path";
import { RnnError } from "../errors.ts";

/** The parts of node:fs the writers use; tests inject failing versions. */
export type AtomicFs = Pick<
  typeof nodeFs,
  "openSync" | "writeSync" | "fsyncSync" | "closeSync" | "renameSync" | "unlinkSync" | "existsSync"
>;

export interface AtomicOptions {
  /** what is being saved, for error messages ("checkpoint", "config"); default "file" */
  what?: string;
  /** file system implementation; default node:fs */
  fs?: AtomicFs;
}

export interface FileToWrite {
  path: string;
  data: Buffer | Uint8Array | string;
}

const TEMP_RE = /^\.(.+)\.tmp-(\d+)-(\d+)$/;
let counter = 0;

/** Human wording of a file system error code; used for every save/read error message. */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  switch (e?.code) {
    case "ENOSPC": return "no space left on device";
    case "EDQUOT": return "disk quota exceeded";
    case "EACCES": case "EPERM": return "permission denied";
    case "EROFS": return "read-only file system";
    case "ENOENT": return "no such file or directory";
    case "ENOTDIR": return "a parent of the path is not a directory";
    case "EISDIR": return "it is a directory";
    case "EEXIST": return "the file already exists";
    case "EMFILE": case "ENFILE": return "too many open files";
    case "EIO": return "input/output error (failing disk?)";
    case "EFBIG": case "ERR_FS_FILE_TOO_LARGE": return "file too large";
    case "ENAMETOOLONG": return "file name too long";
    case "EBUSY": return "resource busy";
    case "ELOOP": return "too many symbolic links";
    case "EXDEV": return "cross-device rename";
    case "EINVAL": return "invalid argument";
    default: {
      const msg = e?.code ?? (err instanceof Error ? err.message : String(err));
      return msg.replace(/[\x00-\x1f\x7f]+/g, " ");
    }
  }
}

/** Temp file name used for `path`, unique within this process. */
function tempPathFor(path: string): string {
  return nodePath.join(nodePath.dirname(path), `.${nodePath.basename(path)}.tmp-${process.pid}-${counter++}`);
}

function toBytes(data: Buffer | Uint8Array | string): Uint8Array {
  return typeof data === "string" ? Buffer.from(data, "utf8") : data;
}

/** Create a fresh temp for `path`, write all of `bytes`, fsync, close. Returns the temp path; removes it on error. */
function writeTemp(fs: AtomicFs, path: string, bytes: Uint8Array): string {
  let tmp = tempPathFor(path);
  let fd = -1;
  for (let tries = 0; ; tries++) {
    try {
      fd = fs.openSync(tmp, "wx", 0o644);
      break;
    } catch (err) {
      // a stale temp of a dead process that had our pid: pick the next counter
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || tries >= 100) throw err;
      tmp = tempPathFor(path);
    }
  }
  try {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
    const f = fd;
    fd = -1;
    fs.closeSync(f);
    return tmp;
  } catch (err) {
    if (fd >= 0) tryQuietly(() => fs.closeSync(fd));
    tryQuietly(() => fs.unlinkSync(tmp));
    throw err;
  }
}

/** fsync a directory so renames into it are durable. Best effort: some platforms cannot open directories. */
function fsyncDir(fs: AtomicFs, dir: string): void {
  tryQuietly(() => {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  });
}

function tryQuietly(f: () => void): void {
  try {
    f();
  } catch {
    // cleanup only: the original error is the one that matters
  }
}

function saveError(what: string, path: string, err: unknown, existed: boolean, note?: string): RnnError {
  const after = note ?? (existed ? `the previous ${what} is intact` : "nothing was written");
  return new RnnError(`cannot save ${what} to ${path}: ${describeFsError(err)} (${after})`);
}

/**
 * Replace `path` with `data` atomically: readers and crashes see either the old or the new complete file.
 * On failure the temp is removed, the previous file is untouched, and a one-line RnnError is thrown.
 */
export function writeFileAtomic(path: string, data: Buffer | Uint8Array | string, opts: AtomicOptions = {}): void {
  writeFilesAtomic([{ path, data }], opts);
}

/**
 * Write several files: all temps are written and fsynced first, then renamed one by one in the order given.
 * Each file is individually atomic; the set is not. Put the file that "commits" the others (for example the
 * one a resume reads first) last: if a rename fails, the files before it are new and the rest are old.
 */
export function writeFilesAtomic(files: FileToWrite[], opts: AtomicOptions = {}): void {
  const fs = opts.fs ?? nodeFs;
  const what = opts.what ?? "file";
  const existed = files.map((f) => tryExists(fs, f.path));
  const temps: string[] = [];
  for (let i = 0; i < files.length; i++) {
    try {
      temps.push(writeTemp(fs, files[i].path, toBytes(files[i].data)));
    } catch (err) {
      for (const t of temps) tryQuietly(() => fs.unlinkSync(t));
      const note = files.length > 1 ? `no file was replaced` : undefined;
      throw saveError(what, files[i].path, err, existed[i], note);
    }
  }
  for (let i = 0; i < files.length; i++) {
    try {
      fs.renameSync(temps[i], files[i].path);
    } catch (err) {
      for (let j = i; j < temps.length; j++) tryQuietly(() => fs.unlinkSync(temps[j]));
      const note = i > 0 ? `${i} of ${files.length} files were already replaced; the rest are intact` : undefined;
      for (const dir of new Set(files.slice(0, i).map((f) => nodePath.dirname(f.path)))) fsyncDir(fs, dir);
      throw saveError(what, files[i].path, err, existed[i], note);
    }
  }
  for (const dir of new Set(files.map((f) => nodePath.dirname(f.path)))) fsyncDir(fs, dir);
}

function tryExists(fs: AtomicFs, path: string): boolean {
  try {
    return fs.existsSync(path);
  } catch {
    return false;
  }
}

/** True when a temp file name was made by writeFileAtomic (any process). */
export function isTempName(name: string): boolean {
  return TEMP_RE.test(name);
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return false; // our writes are synchronous: none is in flight now
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/**
 * Remove temp files left in `dir` by writers that died (killed, crashed, power cut). Only names matching our
 * temp pattern are touched, and only when their writer process is gone. Best effort; returns the removed names.
 */
export function cleanStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = nodeFs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_RE.exec(name);
    if (!m || pidAlive(Number(m[2]))) continue;
    try {
      nodeFs.unlinkSync(nodePath.join(dir, name));
      removed.push(name);
    } catch {
      // vanished or not ours to remove: leave it
    }
  }
  return removed;
}
