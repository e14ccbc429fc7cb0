// The run-directory lock (src/run/lock.ts): one holder at a time, in this process and across processes; a
// stale lock of a dead process is taken over; release (or exit) removes it; racing takers of one stale lock
// end with exactly one holder.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { RnnError } from "../src/errors.ts";
import { acquireRunLock, LOCK_NAME, lockHolder, parseLock, pidAlive } from "../src/run/lock.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const base = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-lock-"));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const d = path.join(base, `run${n++}`);
  fs.mkdirSync(d);
  return d;
};

function lockError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RnnError);
    expect((e as Error).message).not.toContain("\n");
    return (e as Error).message;
  }
  throw new Error("acquired a lock that is held");
}

/** The pid of a process that has exited (spawned, waited for). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  const pid = Number(r.stdout);
  expect(pidAlive(pid)).toBe(false);
  return pid;
}

/** A child node process that takes the lock of `dir`, prints "locked <pid>" (or the error), and then `then`. */
function lockInChild(dir: string, then: "hold" | "exit"): { child: ChildProcess; line: Promise<string> } {
  const code = `import { acquireRunLock } from "./src/run/lock.ts";
try { acquireRunLock(${JSON.stringify(dir)}); console.log("locked " + process.pid); } catch (e) { console.log("error " + e.message); }
${then === "hold" ? "setInterval(() => {}, 1000);" : ""}`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  const line = new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes("\n")) resolve(out.split("\n")[0]);
    });
    child.on("exit", () => resolve(out.split("\n")[0]));
    child.on("error", reject);
  });
  return { child, line };
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.on("exit", () => r())));

describe("acquireRunLock", () => {
  it("writes pid, host and token; a second acquire in this process fails naming the pid; release removes it", () => {
    const dir = freshDir();
    const lock = acquireRunLock(dir);
    expect(lock.path).toBe(path.join(dir, LOCK_NAME));
    const h = lockHolder(dir)!;
    expect(h.pid).toBe(process.pid);
    expect(h.host).toBe(os.hostname());
    expect(lockError(() => acquireRunLock(dir))).toBe(`run directory ${dir} is already locked by this process (pid ${process.pid}): one training run per directory`);
    lock.release();
    expect(fs.existsSync(lock.path)).toBe(false);
    lock.release(); // idempotent
    const again = acquireRunLock(dir);
    again.release();
    expect(fs.readdirSync(dir)).toEqual([]); // no scratch files left behind
  });

  it("takes over a stale lock whose pid is dead", () => {
    const dir = freshDir();
    const dead = deadPid();
    fs.writeFileSync(path.join(dir, LOCK_NAME), `${dead}\n${os.hostname()}\n${"ab".repeat(16)}\n`);
    const lock = acquireRunLock(dir);
    expect(lockHolder(dir)!.pid).toBe(process.pid);
    lock.release();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("a lock held by another live process: refused with one line naming its pid; taken over once it is killed -9", async () => {
    const dir = freshDir();
    const { child, line } = lockInChild(dir, "hold");
    try {
      expect(await line).toBe(`locked ${child.pid}`);
      expect(lockError(() => acquireRunLock(dir))).toBe(
        `run directory ${dir} is in use by another rnn train (pid ${child.pid}): wait for it to finish or stop it, or choose another --out`,
      );
    } finally {
      child.kill("SIGKILL");
      await exited(child);
    }
    expect(lockHolder(dir)!.pid).toBe(child.pid); // kill -9 runs no exit hook: the lock stays, stale
    const lock = acquireRunLock(dir);
    expect(lockHolder(dir)!.pid).toBe(process.pid);
    lock.release();
  }, 20_000);

  it("a child that holds the lock and exits normally releases it (exit hook)", async () => {
    const dir = freshDir();
    const { child, line } = lockInChild(dir, "exit");
    expect(await line).toMatch(/^locked \d+$/);
    await exited(child);
    expect(fs.existsSync(path.join(dir, LOCK_NAME))).toBe(false);
  }, 20_000);

  it("the parent's lock refuses a child, which names the parent's pid", async () => {
    const dir = freshDir();
    const lock = acquireRunLock(dir);
    try {
      const { line } = lockInChild(dir, "exit");
      expect(await line).toBe(`error run directory ${dir} is in use by another rnn train (pid ${process.pid}): wait for it to finish or stop it, or choose another --out`);
    } finally {
      lock.release();
    }
  }, 20_000);

  it("a lock from another host is refused (its pid cannot be checked from here)", () => {
    const dir = freshDir();
    fs.writeFileSync(path.join(dir, LOCK_NAME), `${deadPid()}\nsome-other-host\n${"cd".repeat(16)}\n`);
    expect(lockError(() => acquireRunLock(dir))).toMatch(/is locked by pid \d+ on host some-other-host: .*remove .*\.lock/);
  });

  it("a .lock that is not a lock: taken over when old, refused (without hanging) when fresh", () => {
    const dir = freshDir();
    const f = path.join(dir, LOCK_NAME);
    fs.writeFileSync(f, "");
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(f, old, old);
    acquireRunLock(dir).release();
    fs.writeFileSync(f, "garbage");
    const t0 = Date.now();
    expect(lockError(() => acquireRunLock(dir))).toMatch(/has a \.lock that is not an rnn lock: if no rnn train uses the directory, remove/);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it("a taker that died in the middle of a takeover (its breaker file left behind) does not block the next one", () => {
    const dir = freshDir();
    const token = "12".repeat(16);
    fs.writeFileSync(path.join(dir, LOCK_NAME), `${deadPid()}\n${os.hostname()}\n${token}\n`);
    fs.writeFileSync(path.join(dir, `${LOCK_NAME}.break-${token}`), `${deadPid()}\n${os.hostname()}\n${"34".repeat(16)}\n`);
    fs.writeFileSync(path.join(dir, `${LOCK_NAME}.break-${"56".repeat(16)}`), `${deadPid()}\n${os.hostname()}\n${"78".repeat(16)}\n`); // an older one
    const lock = acquireRunLock(dir);
    expect(lockHolder(dir)!.pid).toBe(process.pid);
    expect(fs.readdirSync(dir)).toEqual([LOCK_NAME]);
    lock.release();
  });

  it("a missing directory: one line", () => {
    expect(lockError(() => acquireRunLock(path.join(base, "nope")))).toMatch(/^cannot lock run directory .*nope: no such file or directory/);
  });

  it("processes racing to take over one stale lock: exactly one wins", async () => {
    const dir = freshDir();
    fs.writeFileSync(path.join(dir, LOCK_NAME), `${deadPid()}\n${os.hostname()}\n${"ef".repeat(16)}\n`);
    const kids = Array.from({ length: 4 }, () => lockInChild(dir, "hold"));
    try {
      const lines = await Promise.all(kids.map((k) => k.line));
      const winners = lines.filter((l) => l.startsWith("locked "));
      expect(winners, lines.join("\n")).toHaveLength(1);
      const pid = Number(winners[0].split(" ")[1]);
      expect(lockHolder(dir)!.pid).toBe(pid);
      for (const l of lines) if (!l.startsWith("locked ")) expect(l).toContain(`(pid ${pid})`);
    } finally {
      for (const k of kids) k.child.kill("SIGKILL");
      await Promise.all(kids.map((k) => exited(k.child)));
    }
  }, 30_000);
});

describe("parseLock", () => {
  it("reads what acquire writes, and nothing else", () => {
    expect(parseLock(`123\nhost\n${"0".repeat(32)}\n`)).toEqual({ pid: 123, host: "host", token: "0".repeat(32) });
    for (const bad of ["", "123", "abc\nh\n" + "0".repeat(32), `0\nh\n${"0".repeat(32)}\n`, `1\nh\nxyz\n`]) expect(parseLock(bad)).toBeNull();
  });
});
