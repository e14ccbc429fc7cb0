// Path checks (src/io/paths.ts): every special kind of path is refused with one line instead of a hang, an
// endless read or a misleading "does not exist", and creating a directory never spins (Node 20's recursive
// mkdirSync loops forever on /proc/run). Whatever could hang runs in a child process with a timeout, so a
// regression fails the test instead of hanging the suite.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { RnnError, UsageError } from "../src/errors.ts";
import { ensureDirectory, openRegularFile, readRegularFile, removeCreated, requireRegularFile, type PathFs } from "../src/io/paths.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-paths-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const at = (...p: string[]) => path.join(dir, ...p);

/** Catch what `f` throws; fail unless it is a one-line error of the given class. */
function caught(f: () => unknown, cls: typeof RnnError | typeof UsageError = RnnError): Error {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(cls);
    expect((e as Error).message).not.toContain("\n");
    return e as Error;
  }
  throw new Error("did not throw");
}

/** Runs an ES module snippet (with TypeScript imports from the repository) in a child node; kills it after ms. */
function child(code: string, ms = 10_000) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8", timeout: ms });
  return { ...r, seconds: (performance.now() - t0) / 1000 };
}

const hasMkfifo = (() => {
  try {
    execFileSync("mkfifo", [at("probe-fifo")]);
    return true;
  } catch {
    return false;
  }
})();

describe("requireRegularFile", () => {
  const file = at("plain.txt");
  fs.writeFileSync(file, "hello");

  it("returns the stats of a regular file (and of a link to one)", () => {
    expect(requireRegularFile(file, "--model").size).toBe(5);
    fs.symlinkSync(file, at("link-to-plain"));
    expect(requireRegularFile(at("link-to-plain"), "--model").size).toBe(5);
  });

  it("refuses a character device such as /dev/zero, naming it", () => {
    const e = caught(() => requireRegularFile("/dev/zero", "--model"));
    expect(e.message).toBe(
      "--model '/dev/zero' is a character device, not a regular file: rnn reads only regular files (a pipe or device may block or never end); give a regular file",
    );
  });

  it.skipIf(!hasMkfifo)("refuses a FIFO without opening it (opening one with no writer would block)", () => {
    const fifo = at("fifo");
    execFileSync("mkfifo", [fifo]);
    expect(caught(() => requireRegularFile(fifo, "corpus file")).message).toMatch(/^corpus file '.*fifo' is a named pipe \(FIFO\), not a regular file/);
  });

  it("refuses a directory, with the caller's hint", () => {
    const e = caught(() => requireRegularFile(dir, "--model", { ifDirectory: "give a .safetensors file" }));
    expect(e.message).toBe(`--model '${dir}' is a directory: give a .safetensors file`);
  });

  it("refuses a socket", async () => {
    const sock = at("s.sock");
    const server = net.createServer().listen(sock);
    await new Promise((r) => server.once("listening", r));
    try {
      expect(caught(() => requireRegularFile(sock, "--config")).message).toMatch(/is a socket, not a regular file/);
    } finally {
      server.close();
    }
  });

  it("says a symbolic link loop is a loop, not missing", () => {
    fs.symlinkSync(at("loop-b"), at("loop-a"));
    fs.symlinkSync(at("loop-a"), at("loop-b"));
    const e = caught(() => requireRegularFile(at("loop-a"), "--model"));
    expect(e.message).toMatch(/^--model '.*loop-a' is a symbolic link loop .*: fix or remove the link/);
    expect(e.message).not.toMatch(/does not exist/);
  });

  it("missing: 'does not exist' with the caller's hint, as a UsageError when asked", () => {
    const e = caught(() => requireRegularFile(at("nope"), "--model", { hint: "give a run directory", usage: true }), UsageError);
    expect(e.message).toBe(`--model '${at("nope")}' does not exist: give a run directory`);
    expect(caught(() => requireRegularFile(path.join(file, "x"), "--model")).message).toMatch(/a part of its path is not a directory/);
  });
});

describe("openRegularFile / readRegularFile", () => {
  it.skipIf(!hasMkfifo)("a FIFO with no writer: refused at once in a child process, no hang", () => {
    const fifo = at("fifo2");
    execFileSync("mkfifo", [fifo]);
    const r = child(`import { readRegularFile } from "./src/io/paths.ts";
try { readRegularFile(${JSON.stringify(fifo)}, "--model", { maxBytes: 1e9 }); console.log("read it"); } catch (e) { console.log(e.message); }`);
    expect(r.error).toBeUndefined(); // no timeout
    expect(r.stdout).toMatch(/is a named pipe \(FIFO\), not a regular file/);
  });

  it("/dev/zero: refused at once, nothing read", () => {
    expect(caught(() => openRegularFile("/dev/zero", "--model")).message).toMatch(/character device/);
    expect(caught(() => readRegularFile("/dev/zero", "--model", { maxBytes: 100 })).message).toMatch(/character device/);
  });

  it("refuses a file above maxBytes before reading it; reads one below", () => {
    const f = at("ten.bin");
    fs.writeFileSync(f, Buffer.alloc(10, 7));
    expect(caught(() => readRegularFile(f, "--model", { maxBytes: 9, tooLargeHint: "is it a checkpoint?" })).message).toBe(
      `--model '${f}' is 10 bytes, more than rnn reads (9 bytes): is it a checkpoint?`,
    );
    expect([...readRegularFile(f, "--model", { maxBytes: 10 })]).toEqual(Array(10).fill(7));
  });
});

describe("ensureDirectory", () => {
  it("creates missing parents one level at a time and returns them; removeCreated undoes it", () => {
    const deep = at("a", "b", "c");
    expect(ensureDirectory(deep, "--out")).toEqual([at("a"), at("a", "b"), deep]);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    expect(ensureDirectory(deep, "--out")).toEqual([]); // already there
    removeCreated([at("a"), at("a", "b"), deep]);
    expect(fs.existsSync(at("a"))).toBe(false);
  });

  it("removeCreated keeps a directory something was written to (and its parents)", () => {
    const created = ensureDirectory(at("k", "run"), "--out");
    fs.writeFileSync(at("k", "run", "x"), "1");
    removeCreated(created);
    expect(fs.existsSync(at("k", "run", "x"))).toBe(true);
  });

  it("/proc/run returns promptly with one line (recursive mkdirSync spins forever there)", () => {
    if (!fs.existsSync("/proc/self")) return; // not Linux
    const r = child(`import { ensureDirectory } from "./src/io/paths.ts";
try { ensureDirectory("/proc/run", "--out"); console.log("created"); } catch (e) { console.log(e.message); }`);
    expect(r.error).toBeUndefined(); // not killed by the timeout
    expect(r.stdout.trim()).toBe(`cannot create --out '/proc/run': '/proc' does not allow new directories (a virtual file system such as /proc or /sys?); choose another --out`);
  });

  it("a path under /sys: permission denied or read-only, one line", () => {
    if (!fs.existsSync("/sys/kernel")) return;
    const e = caught(() => ensureDirectory("/sys/kernel/rnn-run", "--out"));
    expect(e.message).toMatch(/^cannot create --out '\/sys\/kernel\/rnn-run': (permission denied|read-only file system|'\/sys\/kernel' does not allow new directories)/);
  });

  /** node:fs with mkdirSync failing with `code` */
  const failing = (code: string): PathFs => ({
    statSync: fs.statSync,
    mkdirSync: ((p: string) => {
      throw Object.assign(new Error(`${code}: mkdir '${p}'`), { code });
    }) as PathFs["mkdirSync"],
  });

  it("EROFS says read-only file system (not 'no such file or directory')", () => {
    const e = caught(() => ensureDirectory(at("ro", "run"), "--out", { fs: failing("EROFS") }));
    expect(e.message).toBe(`cannot create --out '${at("ro", "run")}': read-only file system (at '${dir}'): nothing can be written there; choose another --out`);
  });

  it("EACCES says permission denied and where", () => {
    const e = caught(() => ensureDirectory(at("x"), "--out", { fs: failing("EACCES") }));
    expect(e.message).toBe(`cannot create --out '${at("x")}': permission denied: cannot create directories in '${dir}'; choose another --out`);
  });

  it("ENOSPC names the disk problem", () => {
    expect(caught(() => ensureDirectory(at("y"), "--out", { fs: failing("ENOSPC") })).message).toMatch(/no space left on device/);
  });

  it("the path or a parent is a file", () => {
    const f = at("file.txt");
    fs.writeFileSync(f, "x");
    expect(caught(() => ensureDirectory(f, "--out")).message).toBe(`--out '${f}' is a regular file, not a directory: choose another --out`);
    expect(caught(() => ensureDirectory(path.join(f, "run"), "--out")).message).toBe(
      `cannot create --out '${path.join(f, "run")}': '${f}' is a regular file, not a directory; choose another --out`,
    );
    expect(caught(() => ensureDirectory("/dev/null/run", "--out")).message).toMatch(/'\/dev\/null' is a character device, not a directory/);
  });

  it("a symbolic link loop as the directory", () => {
    fs.symlinkSync(at("dloop-b"), at("dloop-a"));
    fs.symlinkSync(at("dloop-a"), at("dloop-b"));
    expect(caught(() => ensureDirectory(at("dloop-a"), "--out")).message).toMatch(/is a symbolic link loop/);
    expect(caught(() => ensureDirectory(at("dloop-a", "run"), "--out")).message).toMatch(/run' leads through a symbolic link loop/);
  });

  it("a dangling symbolic link as the directory", () => {
    fs.symlinkSync(at("nowhere"), at("dangling"));
    expect(caught(() => ensureDirectory(at("dangling"), "--out")).message).toMatch(/exists but is a dangling symbolic link, not a directory/);
  });

  it("a relative path is created relative to the working directory", () => {
    const r = child(`import { ensureDirectory } from "./src/io/paths.ts"; process.chdir(${JSON.stringify(dir)}); console.log(JSON.stringify(ensureDirectory("rel/run", "--out")));`);
    expect(JSON.parse(r.stdout)).toHaveLength(2);
    expect(fs.statSync(at("rel", "run")).isDirectory()).toBe(true);
  });
});
