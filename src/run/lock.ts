// One trainer per run directory. A training run holds DIR/.lock for its whole life; a second `rnn train` on the
// same directory (--out D --force, or --resume D) is refused with one line naming the pid that holds it.
//
// The lock file's contents, written before it appears under its name (so a reader never sees it half-written):
//
//   <pid>\n<hostname>\n<token>\n
//
// token is random: it identifies this lock instance, so a release never removes a newer lock that someone else
// made under the same name.
//
// Acquire: link a fully written temp file to DIR/.lock (link fails with EEXIST if the lock exists — the same
// exclusive-create guarantee as open(O_CREAT|O_EXCL), "wx"); on file systems without hard links, open "wx" and
// write. If the lock exists:
//   - its pid is this process, or alive on this host (process.kill(pid, 0) succeeds or says EPERM): refused;
//   - its host is another machine (a shared file system): refused, since its pid cannot be checked from here;
//   - its pid is dead (ESRCH), or the file is unparsable and older than a few seconds: stale. Several processes
//     may find the same stale lock at once, so removing it is itself exclusive: the taker must first create
//     DIR/.lock.break-<token of the stale lock> (exclusively, as above). Only that taker removes .lock, and only
//     if it is still the file judged stale; everyone then starts over, and the exclusive create of .lock decides.
//     A breaker whose creator died is removed by the next taker.
// Release (the returned function, and a process 'exit' hook for paths that never call it): removes the lock
// if it still holds this lock's token. kill -9 leaves the file behind; the next acquire finds its pid dead.
import { createHash, randomBytes, randomInt } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { RnnError } from "../errors.ts";
import { describeFsError } from "../io/atomic.ts";

export const LOCK_NAME = ".lock";

export interface RunLock {
  /** DIR/.lock */
  path: string;
  pid: number;
  /** removes the lock (idempotent; also runs on process exit) */
  release(): void;
}

export interface LockHolder {
  pid: number;
  host: string;
  token: string;
}

/** A lock file younger than this with unparsable contents may be in the middle of being written by "wx". */
const GARBAGE_GRACE_MS = 5_000;
/** how long acquire waits for a takeover by another process, or for a fresh unparsable lock to be written */
const WAIT_MS = 1_000;
const MAX_TRIES = 10_000;
const BREAK_INFIX = ".break-";

/** Parses lock file contents; null when they are not a lock's. */
export function parseLock(text: string): LockHolder | null {
  const m = /^(\d{1,10})\n([^\n]*)\n([0-9a-f]{16,64})\n?$/.exec(text);
  if (!m) return null;
  const pid = Number(m[1]);
  return pid > 0 ? { pid, host: m[2], token: m[3] } : null;
}

/** true when a process with this pid exists on this machine (EPERM: it exists but belongs to someone else). */
export function pidAlive(pid: number): boolean {
  if (!(Number.isSafeInteger(pid) && pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readLock(file: string): { text: string; mtimeMs: number } | null {
  try {
    const text = fs.readFileSync(file, "utf8");
    const mtimeMs = fs.statSync(file).mtimeMs;
    return { text, mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null; // released meanwhile
    throw err;
  }
}

function lockError(why: string): RnnError {
  return new RnnError(why.replace(/[\x00-\x1f\x7f]+/g, " "));
}

/** A scratch name next to `file`, in writeFileAtomic's temp pattern (so cleanStaleTemps removes it if we die). */
function scratchName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomInt(1e9)}`);
}

/** Creates `file` with `content` only if it does not exist; false when it exists. */
function createExclusive(file: string, content: string): boolean {
  const tmp = scratchName(file);
  fs.writeFileSync(tmp, content, { flag: "wx", mode: 0o644 });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
  } finally {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
  // no hard links on this file system: exclusive create, then write (a reader may briefly see it empty)
  let fd: number;
  try {
    fd = fs.openSync(file, "wx", 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/**
 * Takes the exclusive lock of run directory `dir` (which must exist) for this process. Throws a one-line
 * RnnError naming the pid when another live process (or this one) holds it; takes over a stale lock of a dead
 * process. The lock is released by the returned release(), or when the process exits.
 */
export function acquireRunLock(dir: string): RunLock {
  const file = path.join(dir, LOCK_NAME);
  const host = os.hostname();
  const token = randomBytes(16).toString("hex");
  const content = `${process.pid}\n${host}\n${token}\n`;
  const deadline = Date.now() + WAIT_MS;
  let waitingFor: "garbage" | "takeover" = "takeover";
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    let created: boolean;
    try {
      created = createExclusive(file, content);
    } catch (err) {
      throw lockError(`cannot lock run directory ${dir}: ${describeFsError(err)} (creating ${LOCK_NAME}); check the directory is writable`);
    }
    if (created) {
      removeDeadBreakers(dir);
      return makeLock(file, token);
    }

    let seen: { text: string; mtimeMs: number } | null;
    try {
      seen = readLock(file);
    } catch (err) {
      throw lockError(`cannot read the lock of run directory ${dir}: ${describeFsError(err)}; if no rnn train uses it, remove ${file}`);
    }
    if (seen === null) continue; // released between our create and our read: try again
    const holder = parseLock(seen.text);
    if (holder) {
      if (holder.pid === process.pid && holder.host === host) {
        throw lockError(`run directory ${dir} is already locked by this process (pid ${holder.pid}): one training run per directory`);
      }
      if (holder.host !== host) {
        throw lockError(`run directory ${dir} is locked by pid ${holder.pid} on host ${holder.host}: another rnn train is using it; wait for it to finish, or if none runs there, remove ${file}`);
      }
      if (pidAlive(holder.pid)) {
        throw lockError(`run directory ${dir} is in use by another rnn train (pid ${holder.pid}): wait for it to finish or stop it, or choose another --out`);
      }
    } else if (Date.now() - seen.mtimeMs < GARBAGE_GRACE_MS) {
      // unparsable and fresh: a "wx" writer on a file system without hard links, between create and write?
      waitingFor = "garbage";
      if (Date.now() > deadline) break;
      sleepMs(20);
      continue;
    }

    // Stale. Whoever creates the breaker for this very lock instance removes it.
    const key = holder ? holder.token : createHash("sha256").update(`${seen.mtimeMs}\n${seen.text}`).digest("hex").slice(0, 32);
    const breaker = path.join(dir, `${LOCK_NAME}${BREAK_INFIX}${key}`);
    let mine: boolean;
    try {
      mine = createExclusive(breaker, content);
    } catch (err) {
      throw lockError(`cannot take over the stale lock of run directory ${dir}: ${describeFsError(err)}; remove ${file} if no rnn train uses it`);
    }
    if (mine) {
      try {
        const now = readLock(file);
        if (now !== null && now.text === seen.text) fs.unlinkSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
          throw lockError(`cannot take over the stale lock of run directory ${dir}: ${describeFsError(err)}; remove ${file} if no rnn train uses it`);
        }
      } finally {
        unlinkQuietly(breaker);
      }
      continue;
    }
    // another process is taking over this stale lock: give it a moment, unless it died doing so
    const other = readBreaker(breaker);
    if (other && other.host === host && !pidAlive(other.pid)) {
      unlinkQuietly(breaker);
      continue;
    }
    waitingFor = "takeover";
    if (Date.now() > deadline) break;
    sleepMs(10);
  }
  if (waitingFor === "garbage") {
    throw lockError(`run directory ${dir} has a ${LOCK_NAME} that is not an rnn lock: if no rnn train uses the directory, remove ${file}`);
  }
  throw lockError(`cannot lock run directory ${dir}: its ${LOCK_NAME} keeps changing (another rnn train is starting?); try again`);
}

function readBreaker(file: string): LockHolder | null {
  try {
    return parseLock(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

function unlinkQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // gone already
  }
}

/** Breakers left by takers that died mid-takeover (their stale lock is gone: we just created ours). */
function removeDeadBreakers(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const host = os.hostname();
  for (const name of names) {
    if (!name.startsWith(LOCK_NAME + BREAK_INFIX)) continue;
    const b = readBreaker(path.join(dir, name));
    if (b && b.host === host && !pidAlive(b.pid)) unlinkQuietly(path.join(dir, name));
  }
}

function makeLock(file: string, token: string): RunLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.removeListener("exit", release);
    try {
      const holder = parseLock(fs.readFileSync(file, "utf8"));
      if (holder?.token === token) fs.unlinkSync(file);
    } catch {
      // gone already, or unreadable: nothing of ours to remove
    }
  };
  process.on("exit", release);
  return { path: file, pid: process.pid, release };
}

/** Who holds the lock of `dir` (null when unlocked or the file is not a lock). */
export function lockHolder(dir: string): LockHolder | null {
  try {
    return parseLock(fs.readFileSync(path.join(dir, LOCK_NAME), "utf8"));
  } catch {
    return null;
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
