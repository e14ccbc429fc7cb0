// Issue 14, defect 3: one trainer per run directory. `rnn train` holds DIR/.lock for the life of the run (new,
// --force, --resume); a second `--out DIR --force` or `--resume DIR` while the first runs gets one line naming
// the first one's pid and exits non-zero, and the first run goes on undisturbed (its files, its metrics lines).
// A lock left by a run killed with kill -9 is taken over. No test here depends on timing: the first run is
// long (a million steps) and is stopped by the test, with SIGINT, once the others have been refused.
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCheckpointFile } from "../src/io/safetensors.ts";
import { refF32 } from "../src/kernels/ref.ts";
import { LOCK_NAME, lockHolder } from "../src/run/lock.ts";
import { loadModel, loadRunState } from "../src/checkpoint/checkpoint.ts";
import { readMetrics } from "../src/train/metrics.ts";
import { errLines, events, isEvent, makeCorpus, rnn, SMALL, startRnn, tempDir } from "./helpers/cli.ts";

const tmp = tempDir("lock");
afterAll(tmp.cleanup);
const corpus = makeCorpus(tmp.dir, 3000);
const LONG = [...SMALL, "--steps", "1000000", "--eval-every", "5", "--checkpoint-every", "5", "--json"];
const stepOf = (dir: string) => loadModel(dir, refF32).meta.step;
/** the "checkpoint" event of latest.safetensors (an evaluation may save best.safetensors first) */
const savedLatest = (line: string) => isEvent("checkpoint")(line) && JSON.parse(line).kind === "latest";

describe.concurrent("a second trainer on a running run's directory", () => {
  for (const how of ["new", "resumed"] as const) {
    it(`is refused (--out --force and --resume), naming the pid; the first (${how}) run is undisturbed`, async () => {
      const dir = path.join(tmp.dir, `busy-${how}`);
      if (how === "resumed") {
        const r = await rnn(["train", corpus, "--out", dir, ...SMALL, "--steps", "5", "-q"]);
        expect(r.code, r.stderr).toBe(0);
      }
      const first = startRnn(how === "new" ? ["train", corpus, "--out", dir, ...LONG] : ["train", "--resume", dir, "--steps", "1000000", "--json"]);
      await first.waitForLine(savedLatest); // it has saved at least once, and keeps training
      const pid = first.child.pid!;
      expect(lockHolder(dir)?.pid).toBe(pid);

      const [force, resume, plain] = await Promise.all([
        rnn(["train", corpus, "--out", dir, "--force", ...SMALL, "--steps", "3", "-q"]),
        rnn(["train", "--resume", dir, "--steps", "2000000", "-q"]),
        rnn(["train", corpus, "--out", dir, ...SMALL, "--steps", "3", "-q"]),
      ]);
      for (const r of [force, resume]) {
        const lines = errLines(r.stderr);
        expect(lines, r.stderr).toEqual([`rnn: error: run directory ${dir} is in use by another rnn train (pid ${pid}): wait for it to finish or stop it, or choose another --out`]);
        expect(r.code).toBe(1);
      }
      // without --force, the run there is reason enough (exit 2, as before)
      expect(plain.code, plain.stderr).toBe(2);
      expect(errLines(plain.stderr)).toEqual([expect.stringMatching(/already holds a run/)]);
      // --force deleted nothing: not the lock, not the run's files
      expect(lockHolder(dir)?.pid).toBe(pid);
      for (const f of ["latest.safetensors", "latest.state.safetensors", "best.safetensors", "metrics.jsonl"]) expect(fs.existsSync(path.join(dir, f)), f).toBe(true);

      first.child.kill("SIGINT");
      const r = await first.result;
      expect(r.stderr).toBe(""); // no "cannot rename next.state.safetensors"
      expect(r.code).toBe(130);
      const ev = events(r.stdout);
      const end = ev.at(-1)!;
      expect(end).toMatchObject({ type: "end", reason: "interrupted" });
      // every file is the first run's: the model and state at its last step, metrics.jsonl its evaluations only
      expect(stepOf(dir)).toBe(end.step);
      expect(loadRunState(dir, end.step as number).step).toBe(end.step);
      const evals = ev.filter((e) => e.type === "eval").map((e) => e.step);
      const lines = readMetrics(dir).map((l) => l.step);
      expect(lines.slice(lines.length - evals.length)).toEqual(evals);
      expect([...lines].sort((a, b) => a - b)).toEqual(lines); // one run's lines: steps only increase
      if (how === "new") expect(lines).toEqual(evals);
      // released at the end
      expect(fs.existsSync(path.join(dir, LOCK_NAME))).toBe(false);
    }, 60_000); // a safety net, not a speed requirement
  }
});

describe.concurrent("the lock's life", () => {
  it("a lock left by a kill -9'd run is taken over by --resume and by --force; none is left after", async () => {
    const dir = path.join(tmp.dir, "killed");
    const first = startRnn(["train", corpus, "--out", dir, ...LONG]);
    await first.waitForLine(savedLatest);
    const pid = first.child.pid!;
    first.child.kill("SIGKILL");
    expect((await first.result).signal).toBe("SIGKILL");
    expect(lockHolder(dir)?.pid).toBe(pid); // left behind, its pid dead
    const at = stepOf(dir);
    const resumed = await rnn(["train", "--resume", dir, "--steps", String(at + 3), "-q"]);
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    expect(stepOf(dir)).toBe(at + 3);
    expect(fs.existsSync(path.join(dir, LOCK_NAME))).toBe(false);

    // the same for --force over a stale lock (written as a killed run leaves it)
    const again = startRnn(["train", corpus, "--out", dir, "--force", ...LONG]);
    await again.waitForLine(savedLatest);
    again.child.kill("SIGKILL");
    await again.result;
    const forced = await rnn(["train", corpus, "--out", dir, "--force", ...SMALL, "--steps", "4", "-q"]);
    expect(forced.stderr).toBe("");
    expect(forced.code).toBe(0);
    expect(stepOf(dir)).toBe(4);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith(LOCK_NAME))).toEqual([]);
  }, 60_000);

  it("released when a run fails (divergence); a command line refused before training takes none", async () => {
    const dir = path.join(tmp.dir, "fails");
    // a ReLU RNN on plain SGD: resumed at lr 1e30 without clipping it diverges on the step after the first update
    const relu = [...SMALL, "--cell", "rnn", "--activation", "relu", "--optimizer", "sgd", "--momentum", "0", "--lr", "0.1"];
    const ok = await rnn(["train", corpus, "--out", dir, ...relu, "--steps", "3", "-q"]);
    expect(ok.code).toBe(0);
    const diverged = await rnn(["train", "--resume", dir, "--lr", "1e30", "--clip", "0", "--steps", "40", "-q"]);
    expect(diverged.code).toBe(1);
    expect(fs.existsSync(path.join(dir, LOCK_NAME))).toBe(false);
    const contradicts = await rnn(["train", "--resume", dir, "--hidden", "99", "--steps", "40"]);
    expect(contradicts.code).toBe(2);
    expect(fs.existsSync(path.join(dir, LOCK_NAME))).toBe(false);
    readCheckpointFile(path.join(dir, "latest.safetensors"));
  }, 60_000);
});
