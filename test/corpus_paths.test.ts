// Corpus paths that are not plain text files: each is one line that says what the path is and what to do —
// a symbolic link loop is a loop (not a read error), a FIFO or device is refused without opening it, and a
// /proc pseudo-file (size 0, contents generated on every read) is not called "empty".
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCorpus } from "../src/corpus/corpus.ts";
import { RnnError } from "../src/errors.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-corpus-paths-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const at = (...p: string[]) => path.join(dir, ...p);

function refusal(p: string): string {
  try {
    readCorpus([p]);
  } catch (e) {
    expect(e).toBeInstanceOf(RnnError);
    expect((e as Error).message).not.toContain("\n");
    return (e as Error).message;
  }
  throw new Error("read it");
}

describe("readCorpus refuses what is not a text file, saying what it is", () => {
  it.skipIf(!fs.existsSync("/proc/cpuinfo"))("/proc/cpuinfo: a pseudo-file, not 'empty'", () => {
    expect(refusal("/proc/cpuinfo")).toBe(
      "corpus file '/proc/cpuinfo' reports size 0 but has contents (a /proc or /sys pseudo-file?), which may change between reads: copy it to a regular file first (cat '/proc/cpuinfo' > corpus.txt)",
    );
  });

  it("an empty file is still empty", () => {
    fs.writeFileSync(at("empty.txt"), "");
    expect(refusal(at("empty.txt"))).toMatch(/is empty: give a file with some text/);
  });

  it("a symbolic link loop", () => {
    fs.symlinkSync(at("b"), at("a"));
    fs.symlinkSync(at("a"), at("b"));
    expect(refusal(at("a"))).toBe(`corpus file '${at("a")}' is a symbolic link loop (following its links never reaches a file): fix or remove the link, or give the real path`);
  });

  it("/dev/zero", () => {
    expect(refusal("/dev/zero")).toBe("corpus '/dev/zero' is a character device, not a regular file: pass a UTF-8 text file");
  });

  it("a FIFO, without blocking", () => {
    try {
      execFileSync("mkfifo", [at("fifo")]);
    } catch {
      return; // no mkfifo here
    }
    expect(refusal(at("fifo"))).toMatch(/is a named pipe \(FIFO\), not a regular file: pass a UTF-8 text file/);
  });
});
