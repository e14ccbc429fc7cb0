// Atomic saves: a failed write (disk full, read-only, quota, bad path) leaves the previous file intact, no temp
// behind, and one clear line; a writer killed with SIGKILL mid-save leaves the old or the new complete file.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { RnnError } from "../src/errors.ts";
import {
  type AtomicFs,
  cleanStaleTemps,
  describeFsError,
  isTempName,
  writeFileAtomic,
  writeFilesAtomic,
} from "../src/io/atomic.ts";
import { makeRng } from "../src/rng.ts";

const root = fs.mkdtempSync(join(tmpdir(), "rnn-atomic-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
function freshDir(): string {
  const d = join(root, `d${dirCount++}`);
  fs.mkdirSync(d);
  return d;
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

/** node:fs with one function replaced. */
function withFs(patch: Partial<AtomicFs>): AtomicFs {
  return { ...fs, ...patch } as AtomicFs;
}

function expectOneLineRnnError(f: () => void): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(RnnError);
    const msg = (err as Error).message;
    expect(msg).not.toMatch(/[\n\r]/);
    return msg;
  }
  throw new Error("expected an RnnError, nothing was thrown");
}

describe("writeFileAtomic", () => {
  it("writes bytes and strings, replacing the old content, and leaves no temp", () => {
    const dir = freshDir();
    const p = join(dir, "latest.safetensors");
    writeFileAtomic(p, "old ✓");
    expect(fs.readFileSync(p, "utf8")).toBe("old ✓");
    writeFileAtomic(p, new Uint8Array([1, 2, 3]));
    expect([...fs.readFileSync(p)]).toEqual([1, 2, 3]);
    expect(fs.readdirSync(dir)).toEqual(["latest.safetensors"]);
  });

  it("completes the file even when the OS accepts only part of each write", () => {
    const dir = freshDir();
    const p = join(dir, "f.bin");
    const data = Buffer.alloc(10_000).map((_, i) => (i * 7) & 0xff);
    const short = withFs({ writeSync: ((fd: number, b: Uint8Array, off: number, len: number) =>
      fs.writeSync(fd, b, off, Math.min(len, 999))) as AtomicFs["writeSync"] });
    writeFileAtomic(p, data, { fs: short });
    expect(fs.readFileSync(p).equals(data)).toBe(true);
  });

  const failures: [label: string, code: string, fails: keyof AtomicFs, words: string][] = [
    ["disk full mid-write", "ENOSPC", "writeSync", "no space left on device"],
    ["quota exceeded", "EDQUOT", "writeSync", "disk quota exceeded"],
    ["read-only file system at open", "EROFS", "openSync", "read-only file system"],
    ["permission denied at rename", "EACCES", "renameSync", "permission denied"],
    ["I/O error at fsync", "EIO", "fsyncSync", "input/output error (failing disk?)"],
  ];
  for (const [label, code, fn, words] of failures) {
    it(`keeps the previous file and removes the temp on ${label}`, () => {
      const dir = freshDir();
      const p = join(dir, "latest.safetensors");
      fs.writeFileSync(p, "previous checkpoint");
      const broken = withFs({
        [fn]: (...args: unknown[]) => {
          // a failing write first puts some bytes down, like a real disk filling up
          if (fn === "writeSync") (fs.writeSync as (...a: unknown[]) => number)(args[0], args[1], args[2], 5);
          // opening the directory for its fsync happens after the rename; only the file open should fail
          if (fn === "openSync" && String(args[0]) === dir) return fs.openSync(dir, "r");
          throw errno(code);
        },
      });
      const msg = expectOneLineRnnError(() =>
        writeFileAtomic(p, Buffer.alloc(100_000, 1), { fs: broken, what: "checkpoint" }),
      );
      expect(msg).toBe(`cannot save checkpoint to ${p}: ${words} (the previous checkpoint is intact)`);
      expect(fs.readFileSync(p, "utf8")).toBe("previous checkpoint");
      expect(fs.readdirSync(dir)).toEqual(["latest.safetensors"]);
    });
  }

  it("says nothing was written when there was no previous file", () => {
    const dir = freshDir();
    const p = join(dir, "new.json");
    const broken = withFs({ writeSync: () => { throw errno("ENOSPC"); } });
    const msg = expectOneLineRnnError(() => writeFileAtomic(p, "{}", { fs: broken }));
    expect(msg).toBe(`cannot save file to ${p}: no space left on device (nothing was written)`);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("reports real errors: a path under a regular file, and a target that is a directory", () => {
    const dir = freshDir();
    const file = join(dir, "runs");
    fs.writeFileSync(file, "not a directory");
    expect(expectOneLineRnnError(() => writeFileAtomic(join(file, "latest.safetensors"), "x"))).toMatch(
      /a parent of the path is not a directory/,
    );
    const sub = join(dir, "taken");
    fs.mkdirSync(sub);
    fs.writeFileSync(join(sub, "keep"), "k");
    expect(expectOneLineRnnError(() => writeFileAtomic(sub, "x"))).toMatch(/^cannot save file to .*taken: /);
    expect(fs.readFileSync(join(sub, "keep"), "utf8")).toBe("k");
    expect(fs.readdirSync(dir).sort()).toEqual(["runs", "taken"]);
  });

  it("maps unknown errors to one line too", () => {
    expect(describeFsError(errno("EWEIRD"))).toBe("EWEIRD");
    expect(describeFsError(new Error("line one\nline two"))).toBe("line one line two");
  });
});

describe("writeFilesAtomic", () => {
  it("writes all files, in order", () => {
    const dir = freshDir();
    const renames: string[] = [];
    const spy = withFs({ renameSync: (a, b) => { renames.push(String(b)); fs.renameSync(a, b); } });
    const files = ["a.bin", "b.json", "latest.json"].map((n, i) => ({ path: join(dir, n), data: `v${i}` }));
    writeFilesAtomic(files, { fs: spy });
    expect(renames).toEqual(files.map((f) => f.path));
    for (const f of files) expect(fs.readFileSync(f.path, "utf8")).toBe(f.data);
    expect(fs.readdirSync(dir).filter(isTempName)).toEqual([]);
  });

  it("replaces nothing when a temp cannot be written, and says how far it got when a rename fails", () => {
    const dir = freshDir();
    const paths = ["a", "b", "c"].map((n) => join(dir, n));
    for (const p of paths) fs.writeFileSync(p, "old");
    let opens = 0;
    const failSecondOpen = withFs({
      openSync: ((p: fs.PathLike, ...rest: unknown[]) => {
        if (++opens === 2) throw errno("ENOSPC");
        return (fs.openSync as (...a: unknown[]) => number)(p, ...rest);
      }) as AtomicFs["openSync"],
    });
    const m1 = expectOneLineRnnError(() => writeFilesAtomic(paths.map((p) => ({ path: p, data: "new" })), { fs: failSecondOpen }));
    expect(m1).toBe(`cannot save file to ${paths[1]}: no space left on device (no file was replaced)`);
    for (const p of paths) expect(fs.readFileSync(p, "utf8")).toBe("old");
    expect(fs.readdirSync(dir).sort()).toEqual(["a", "b", "c"]);

    let renames = 0;
    const failSecondRename = withFs({
      renameSync: (a, b) => {
        if (++renames === 2) throw errno("EIO");
        fs.renameSync(a, b);
      },
    });
    const m2 = expectOneLineRnnError(() => writeFilesAtomic(paths.map((p) => ({ path: p, data: "new" })), { fs: failSecondRename }));
    expect(m2).toMatch(/: input\/output error .*\(1 of 3 files were already replaced; the rest are intact\)$/);
    expect(paths.map((p) => fs.readFileSync(p, "utf8"))).toEqual(["new", "old", "old"]);
    expect(fs.readdirSync(dir).sort()).toEqual(["a", "b", "c"]);
  });
});

describe("cleanStaleTemps", () => {
  it("removes temps of dead writers and of this process, keeps live writers' temps and other files", async () => {
    const dir = freshDir();
    const dead = spawn(process.execPath, ["-e", ""]);
    const deadPid = dead.pid!;
    await new Promise((r) => dead.on("exit", r));
    const names = {
      dead: `.latest.safetensors.tmp-${deadPid}-0`,
      mine: `.latest.safetensors.tmp-${process.pid}-3`,
      live: `.latest.safetensors.tmp-${process.ppid}-1`, // our parent is alive
      other1: "latest.safetensors",
      other2: `latest.safetensors.tmp-${deadPid}-0`, // no leading dot: not our pattern
      other3: `.notes.tmp`,
    };
    for (const n of Object.values(names)) fs.writeFileSync(join(dir, n), "x");
    expect(cleanStaleTemps(dir).sort()).toEqual([names.dead, names.mine].sort());
    expect(fs.readdirSync(dir).sort()).toEqual([names.live, names.other1, names.other2, names.other3].sort());
    expect(cleanStaleTemps(join(dir, "missing"))).toEqual([]);
  });
});

describe("crash safety", () => {
  const SIZE = 5 << 20;

  /** Content of version v: u32 version, a fill byte, and a SHA-256 of everything before it in the last 32. */
  const childSource = (atomicUrl: string) => `
    import { createHash } from "node:crypto";
    import { writeFileAtomic } from ${JSON.stringify(atomicUrl)};
    const [target, size] = [process.argv[2], Number(process.argv[3])];
    const buf = Buffer.alloc(size);
    for (let v = 1; ; v++) {
      buf.writeUInt32LE(v, 0);
      buf.fill(v & 0xff, 4, size - 32);
      createHash("sha256").update(buf.subarray(0, size - 32)).digest().copy(buf, size - 32);
      writeFileAtomic(target, buf);
      process.stdout.write(v + "\\n");
    }
  `;

  function versionOf(file: Buffer): number {
    expect(file.length).toBe(SIZE);
    const digest = createHash("sha256").update(file.subarray(0, SIZE - 32)).digest();
    expect(digest.equals(file.subarray(SIZE - 32))).toBe(true);
    return file.readUInt32LE(0);
  }

  it("leaves the old or the new complete file when the writer is killed with SIGKILL", async () => {
    const dir = freshDir();
    const target = join(dir, "latest.safetensors");
    const script = join(dir, "writer.mts");
    fs.writeFileSync(script, childSource(pathToFileURL(resolve("src/io/atomic.ts")).href));
    const initial = Buffer.alloc(SIZE);
    createHash("sha256").update(initial.subarray(0, SIZE - 32)).digest().copy(initial, SIZE - 32);
    fs.writeFileSync(target, initial);
    expect(versionOf(fs.readFileSync(target))).toBe(0);

    const rng = makeRng(5);
    const seen = new Set<number>();
    for (let round = 0; round < 10; round++) {
      const child = spawn(process.execPath, ["--import", "tsx", script, target, String(SIZE)], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      // "close": the process is gone and its stdout fully read
      const closed = new Promise<void>((r) => child.on("close", () => r()));
      const firstWrite = new Promise<void>((r) => child.stdout!.on("data", (d) => { out += d; r(); }));
      await Promise.race([firstWrite, closed]);
      await new Promise((r) => setTimeout(r, rng.int(40)));
      child.kill("SIGKILL");
      await closed;
      const reported = out.trim().split("\n").map(Number);
      const last = reported[reported.length - 1];
      expect(last).toBeGreaterThanOrEqual(1); // the writer really ran
      const v = versionOf(fs.readFileSync(target)); // complete, hash intact
      expect([last, last + 1]).toContain(v); // the last finished write, or the one in flight if its rename landed
      seen.add(v);
    }
    expect(seen.size).toBeGreaterThan(1);
    const stale = fs.readdirSync(dir).filter(isTempName);
    expect(cleanStaleTemps(dir).sort()).toEqual(stale.sort());
    expect(fs.readdirSync(dir).sort()).toEqual(["latest.safetensors", "writer.mts"]);
  }, 20_000);
});
