// Issue 14, defect 1: every path rnn opens or creates is checked first, through the real binary. A path that
// is not a regular file (a corpus, --model, --resume's checkpoint, --prime-file) or cannot hold a directory
// (--out under /proc) gets one line and a non-zero exit at once: nothing hangs (a FIFO), reads forever
// (/dev/zero) or spins deaf to Ctrl-C (Node 20's recursive mkdir on /proc/run). The timeouts are safety nets
// (the helper kills a child that runs past them), not speed requirements: a regression fails as "timed out".
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, type CliResult, errLines, makeCorpus, rnn, SMALL, tempDir } from "./helpers/cli.ts";

const tmp = tempDir("paths");
afterAll(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const corpus = makeCorpus(tmp.dir, 2000);
const run = at("run");
const NET = 60_000; // safety net per spawned command

const hasMkfifo = (() => {
  try {
    execFileSync("mkfifo", [at("probe.fifo")]);
    return true;
  } catch {
    return false;
  }
})();
const isLinux = fs.existsSync("/proc/self");

beforeAll(async () => {
  const r = await rnn(["train", corpus, "--out", run, ...SMALL, "--steps", "2", "-q"]);
  expect(r.code, r.stderr).toBe(0);
  if (hasMkfifo) execFileSync("mkfifo", [at("text.fifo")]);
}, NET);

/** The one stderr line of a refused command (not killed by the safety net), and its exit code. */
function refused(r: CliResult, code: number): string {
  expect(r.timedOut, "killed by the test's safety net: the command hung").toBe(false);
  const lines = errLines(r.stderr);
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.code).toBe(code);
  return lines[0];
}

describe.concurrent("paths rnn creates", () => {
  it.skipIf(!isLinux)("train --out /proc/run: one line at once (recursive mkdir spun there forever, deaf to Ctrl-C)", async () => {
    const r = await rnn(["train", corpus, "--out", "/proc/run", ...SMALL, "--steps", "2"], { timeoutMs: NET });
    expect(refused(r, 1)).toBe(
      "rnn: error: cannot create --out '/proc/run': '/proc' does not allow new directories (a virtual file system such as /proc or /sys?); choose another --out",
    );
  }, NET);

  it.skipIf(!isLinux)("train --out /proc/run/deeper/still: the same for a deeper path", async () => {
    const r = await rnn(["train", corpus, "--out", "/proc/run/deeper/still", ...SMALL, "--steps", "2"], { timeoutMs: NET });
    expect(refused(r, 1)).toMatch(/^rnn: error: cannot create --out '\/proc\/run\/deeper\/still': '\/proc' does not allow new directories/);
  }, NET);

  it("train --out naming a device or a FIFO: one line, exit 2", async () => {
    const outs = ["/dev/null", ...(hasMkfifo ? [at("text.fifo")] : [])];
    const rs = await Promise.all(outs.map((o) => rnn(["train", corpus, "--out", o, ...SMALL, "--steps", "2"], { timeoutMs: NET })));
    expect(refused(rs[0], 2)).toBe("rnn: error: --out /dev/null is a character device, not a directory: choose another --out");
    if (rs[1]) expect(refused(rs[1], 2)).toBe(`rnn: error: --out ${at("text.fifo")} is a named pipe (FIFO), not a directory: choose another --out`);
  }, NET);
});

describe.concurrent("paths rnn reads", () => {
  it("/dev/zero as the corpus: refused at once, nothing read", async () => {
    const r = await rnn(["train", "/dev/zero", "--out", at("out-zero"), ...SMALL, "--steps", "2"], { timeoutMs: NET });
    expect(refused(r, 1)).toBe("rnn: error: corpus '/dev/zero' is a character device, not a regular file: pass a UTF-8 text file");
    expect(fs.existsSync(at("out-zero"))).toBe(false);
  }, NET);

  it.skipIf(!hasMkfifo)("a FIFO as the corpus: refused at once (opening it would block)", async () => {
    const r = await rnn(["train", at("text.fifo"), "--out", at("out-fifo"), ...SMALL, "--steps", "2"], { timeoutMs: NET });
    expect(refused(r, 1)).toBe(`rnn: error: corpus '${at("text.fifo")}' is a named pipe (FIFO), not a regular file: pass a UTF-8 text file`);
    expect(fs.existsSync(at("out-fifo"))).toBe(false);
  }, NET);

  it("/dev/zero as --model (sample, eval, predict, score, info, diagnose): refused at once", async () => {
    const cmds = [["sample", "--model", "/dev/zero"], ["eval", "--model", "/dev/zero", corpus], ["predict", "--model", "/dev/zero", "the"],
      ["score", "--model", "/dev/zero", "--text", "the"], ["diagnose", "--model", "/dev/zero", "--no-svg"]];
    const rs = await Promise.all(cmds.map((c) => rnn(c, { timeoutMs: NET })));
    rs.forEach((r, i) => expect(refused(r, 2), cmds[i][0]).toMatch(/--model '\/dev\/zero' is a character device, not a regular file/));
    const info = await rnn(["info", "/dev/zero"], { timeoutMs: NET });
    expect(info.timedOut).toBe(false);
    expect(errLines(info.stderr)).toHaveLength(1);
    expect(info.code).not.toBe(0);
  }, NET);

  it.skipIf(!hasMkfifo)("a FIFO as --model (sample, eval, diagnose): refused at once (it used to block forever)", async () => {
    const cmds = [["sample", "--model", at("text.fifo")], ["eval", "--model", at("text.fifo"), corpus], ["diagnose", "--model", at("text.fifo"), "--no-svg"]];
    const rs = await Promise.all(cmds.map((c) => rnn(c, { timeoutMs: NET })));
    rs.forEach((r, i) => expect(refused(r, 2), cmds[i][0]).toMatch(/--model '.*text\.fifo' is a named pipe \(FIFO\), not a regular file/));
  }, NET);

  it.skipIf(!hasMkfifo)("a FIFO as --prime-file, as the text of eval and score: refused at once", async () => {
    const rs = await Promise.all([
      rnn(["sample", "--model", run, "--prime-file", at("text.fifo")], { timeoutMs: NET }),
      rnn(["eval", "--model", run, at("text.fifo")], { timeoutMs: NET }),
      rnn(["score", "--model", run, at("text.fifo")], { timeoutMs: NET }),
    ]);
    for (const r of rs) expect(refused(r, 1)).toMatch(/'.*text\.fifo' is a named pipe \(FIFO\), not a regular file/);
  }, NET);

  it.skipIf(!hasMkfifo)("--resume of a run whose latest.safetensors is a FIFO or /dev/zero: refused at once", async () => {
    const fifoRun = at("fifo-run"), zeroRun = at("zero-run");
    for (const d of [fifoRun, zeroRun]) fs.cpSync(run, d, { recursive: true });
    fs.rmSync(path.join(fifoRun, "latest.safetensors"));
    execFileSync("mkfifo", [path.join(fifoRun, "latest.safetensors")]);
    fs.rmSync(path.join(zeroRun, "latest.safetensors"));
    fs.symlinkSync("/dev/zero", path.join(zeroRun, "latest.safetensors"));
    const [f, z] = await Promise.all([fifoRun, zeroRun].map((d) => rnn(["train", "--resume", d, "--steps", "4"], { timeoutMs: NET })));
    expect(refused(f, 2)).toMatch(/is a named pipe \(FIFO\), not a regular file/);
    expect(refused(z, 2)).toMatch(/is a character device, not a regular file/);
  }, NET);

  it.skipIf(!hasMkfifo)("diagnose --svg into a FIFO or a missing directory: refused before the diagnosis, one line", async () => {
    const [f, m] = await Promise.all([
      rnn(["diagnose", "--model", run, "--svg", at("text.fifo")], { timeoutMs: NET }),
      rnn(["diagnose", "--model", run, "--svg", at("no-such-dir", "plot.svg")], { timeoutMs: NET }),
    ]);
    expect(refused(f, 2)).toMatch(/--svg '.*text\.fifo' is a named pipe \(FIFO\), not a regular file/);
    expect(f.stdout).toBe("");
    expect(refused(m, 2)).toMatch(/--svg '.*plot\.svg': its directory '.*no-such-dir' does not exist/);
    expect(m.stdout).toBe("");
  }, NET);
});

/** `unshare -rm` (a user and mount namespace) can mount a read-only tmpfs without privileges, where allowed. */
const canUnshare = (() => {
  if (!isLinux) return false;
  const r = spawnSync("unshare", ["-rm", "sh", "-c", 'd=$(mktemp -d) && mount -t tmpfs -o ro none "$d" && ! mkdir "$d/x" 2>/dev/null'], { encoding: "utf8" });
  return r.status === 0;
})();

describe.concurrent("a read-only file system", () => {
  /** rnn train … --out RO/<sub> with RO a read-only tmpfs mounted in a private namespace. */
  function onReadOnly(sub: string) {
    const ro = fs.mkdtempSync(at("ro-"));
    const script = `mount -t tmpfs -o ro none "$1" && shift && exec "$@"`;
    const r = spawnSync("unshare", ["-rm", "sh", "-c", script, "sh", ro, process.execPath, BIN, "train", corpus, "--out", path.join(ro, sub), ...SMALL, "--steps", "2"],
      { encoding: "utf8", timeout: NET, env: { ...process.env, NO_COLOR: "1" } });
    return { ro, code: r.status, lines: errLines(r.stderr ?? "") };
  }

  it.skipIf(!canUnshare)("--out under it says 'read-only file system' (it said 'no such file or directory')", () => {
    for (const sub of ["run", "a/b/run"]) {
      const { ro, code, lines } = onReadOnly(sub);
      expect(lines).toEqual([`rnn: error: cannot create --out '${path.join(ro, sub)}': read-only file system (at '${ro}'): nothing can be written there; choose another --out`]);
      expect(code).toBe(1);
    }
  }, NET);

  it.skipIf(!canUnshare)("--out naming its root (a directory that exists) says 'read-only file system' before training", () => {
    const { code, lines } = onReadOnly("");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^rnn: error: .*read-only file system/);
    expect(code).toBe(1);
  }, NET);
});
