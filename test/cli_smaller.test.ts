// Issue 14, defect 7 — the smaller ones, through the real binary: a stale next.state.safetensors (a save that
// failed after writing it, e.g. on a full disk) is not left behind and a later resume clears it; --steps at or
// below the resumed step is refused in one line (it exited 0 printing "train NaN"); flags that do nothing are
// refused (--momentum with an optimizer other than sgd, --lr-decay-every without --lr-decay and vice versa) and
// --threads above the core count is warned about; a divergence caused by --weight-decay or --ortho-reg names
// them; sizes beyond what a checkpoint may hold are refused before anything is written; a model too large for
// memory names the setting to lower instead of "wasm kernels: out of memory (asked for … bytes)".
// (Also of defect 7, elsewhere: a failed new run leaves no empty --out — cli_crash.test.ts; --out on a
// read-only file system — cli_paths.test.ts; /proc/cpuinfo as a corpus — corpus_paths.test.ts; a symbolic
// link loop as --model — cli_model_input.test.ts.)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeState, settleRunState } from "../src/checkpoint/checkpoint.ts";
import { isTempName } from "../src/io/atomic.ts";
import { readCheckpointFile } from "../src/io/safetensors.ts";
import { errLines, events, isEvent, makeCorpus, rnn, SMALL, snapshot, startRnn, tempDir } from "./helpers/cli.ts";

const tmp = tempDir("smaller");
afterAll(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const corpus = makeCorpus(tmp.dir, 3000);
const NEXT = "next.state.safetensors", STATE = "latest.state.safetensors";
const stateStep = (f: string) => decodeState(fs.readFileSync(f), f).step;

async function ok(args: string[], opts = {}) {
  const r = await rnn(args, opts);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r;
}

/** The one line of a refused command, and its exit code. */
async function refused(args: string[], code: number, opts = {}): Promise<string> {
  const r = await rnn(args, opts);
  const lines = errLines(r.stderr);
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.code, r.stderr).toBe(code);
  return lines[0];
}

describe.concurrent("a stale next.state.safetensors", () => {
  it.skipIf(process.platform === "win32")("a save whose model write fails (file size limit, like a full disk) leaves none", async () => {
    const dir = at("full");
    // plain SGD keeps no optimizer state: the training state (the carried h, c) is small, the model is not, so
    // under the limit the state is written and the model write fails, the order a filling disk gives
    const flags = [...SMALL, "--hidden", "64", "--optimizer", "sgd", "--momentum", "0", "--lr", "0.1", "--eval-every", "1000", "--checkpoint-every", "2"];
    await ok(["train", corpus, "--out", dir, ...flags, "--steps", "2", "-q"]);
    expect(fs.statSync(path.join(dir, STATE)).size).toBeLessThan(10_000);
    expect(fs.statSync(path.join(dir, "latest.safetensors")).size).toBeGreaterThan(21_000);
    const before = snapshot(dir, (n) => n.endsWith(".safetensors"));
    const r = await rnn(["train", "--resume", dir, "--steps", "6", "-q"], { shellPrefix: "ulimit -f 20 && trap '' XFSZ" });
    expect(r.code).toBe(1);
    expect(errLines(r.stderr)).toEqual([expect.stringMatching(/^rnn: error: cannot save checkpoint to .*latest\.safetensors: file too large/)]);
    expect(fs.existsSync(path.join(dir, NEXT))).toBe(false);
    expect(fs.readdirSync(dir).filter(isTempName)).toEqual([]);
    expect(snapshot(dir, (n) => n.endsWith(".safetensors"))).toEqual(before);
  }, 60_000);

  it("one left behind (from another step) is removed when the run is resumed, before anything else", async () => {
    const dir = at("stale");
    await ok(["train", corpus, "--out", dir, ...SMALL, "--steps", "4", "-q"]);
    const old = fs.readFileSync(path.join(dir, STATE)); // step 4
    await ok(["train", "--resume", dir, "--steps", "8", "-q"]);
    fs.writeFileSync(path.join(dir, NEXT), old); // as a failed save of step 4 would have left it, beside a model of step 8
    const run = startRnn(["train", "--resume", dir, "--steps", "1000000", "--checkpoint-every", "1000000", "--eval-every", "1000000", "--json"]);
    await run.waitForLine(isEvent("step", 1)); // training: no save has happened (none is due for a million steps)
    run.child.kill("SIGKILL");
    await run.result;
    expect(fs.existsSync(path.join(dir, NEXT))).toBe(false);
    expect(stateStep(path.join(dir, STATE))).toBe(8);
  }, 60_000);

  it("one that belongs to the model (a crash between the model's commit and the rename) becomes latest.state", async () => {
    const dir = at("committed");
    await ok(["train", corpus, "--out", dir, ...SMALL, "--steps", "4", "-q"]);
    const old = fs.readFileSync(path.join(dir, STATE));
    await ok(["train", "--resume", dir, "--steps", "8", "-q"]);
    fs.renameSync(path.join(dir, STATE), path.join(dir, NEXT)); // step 8, not yet renamed
    fs.writeFileSync(path.join(dir, STATE), old); // the previous save's, step 4
    expect(settleRunState(dir)).toBe("renamed");
    expect(fs.existsSync(path.join(dir, NEXT))).toBe(false);
    expect(stateStep(path.join(dir, STATE))).toBe(8);
    expect(settleRunState(dir)).toBe(null); // nothing left to do
    await ok(["train", "--resume", dir, "--steps", "10", "-q"]);
  }, 60_000);
});

describe.concurrent("a budget already spent", () => {
  it("--steps at or below the resumed step, or none left: one line, exit 2, nothing written (it printed 'train NaN', exit 0)", async () => {
    const dir = at("budget");
    await ok(["train", corpus, "--out", dir, ...SMALL, "--steps", "6", "-q"]);
    const before = snapshot(dir);
    expect(await refused(["train", "--resume", dir, "--steps", "4"], 2)).toBe(
      "rnn: error: nothing to train: the run is at step 6 and its budget is --steps 4, counted from the start of the run; give --steps above 6 (or more --epochs) to train more",
    );
    expect(await refused(["train", "--resume", dir, "--steps", "6", "--json"], 2)).toMatch(/the run is at step 6 and its budget is --steps 6/);
    // no budget given: the run's own, spent
    expect(await refused(["train", "--resume", dir], 2)).toMatch(/^rnn: error: nothing to train: the run is at step 6 and its budget is --steps 6,/);
    expect(snapshot(dir)).toEqual(before);
    // 3000 characters: 2850 to train on, 89 chunks of 4 × 8 per epoch. --epochs 1 trains on to step 89, then is spent
    await ok(["train", "--resume", dir, "--epochs", "1", "-q"]);
    expect(await refused(["train", "--resume", dir], 2)).toMatch(/the run is at step 89 and its budget is --epochs 1 \(89 steps\), counted from/);
  }, 60_000);
});

describe.concurrent("flags that do nothing, and more threads than cores", () => {
  const out = (name: string) => ["--out", at(`flags-${name}`, "run")];
  it("--momentum with adam, rmsprop or adagrad: refused (exit 2, nothing created)", async () => {
    expect(await refused(["train", corpus, ...out("m"), ...SMALL, "--momentum", "0.5"], 2)).toBe(
      "rnn: error: --momentum applies to --optimizer sgd only (adam does not use it); drop --momentum, or use --optimizer sgd",
    );
    expect(await refused(["train", corpus, ...out("m2"), ...SMALL, "--optimizer", "rmsprop", "--momentum", "0.5"], 2)).toMatch(/rmsprop does not use it/);
    expect(fs.existsSync(at("flags-m")) || fs.existsSync(at("flags-m2"))).toBe(false);
  }, 60_000);

  it("--lr-decay-every without --lr-decay, and --lr-decay without --lr-decay-every: refused", async () => {
    expect(await refused(["train", corpus, ...out("d1"), ...SMALL, "--lr-decay-every", "100"], 2)).toBe(
      "rnn: error: --lr-decay-every 100 does nothing without --lr-decay (the factor is 1): give --lr-decay F too, e.g. --lr-decay 0.5",
    );
    expect(await refused(["train", corpus, ...out("d2"), ...SMALL, "--lr-decay", "0.5"], 2)).toBe(
      "rnn: error: --lr-decay 0.5 does nothing without --lr-decay-every (the steps between decays): give --lr-decay-every N too",
    );
    expect(fs.existsSync(at("flags-d1")) || fs.existsSync(at("flags-d2"))).toBe(false);
  }, 60_000);

  it("--threads above the core count: one warning line, and the run goes on", async () => {
    const cores = os.availableParallelism();
    const r = await rnn(["train", corpus, ...out("t"), ...SMALL, "--threads", String(cores + 1), "--steps", "2"]);
    expect(r.code).toBe(0);
    expect(errLines(r.stderr)).toEqual([
      `rnn: warning: --threads ${cores + 1} is more than the ${cores} core${cores === 1 ? "" : "s"} here: the threads take turns (slower, not faster); the results depend on --threads, so keep it to compare runs`,
    ]);
  }, 60_000);
});

describe.concurrent("divergence names the settings that caused it", () => {
  for (const [flag, value] of [["--weight-decay", "1e30"], ["--ortho-reg", "1e30"]] as const) {
    it(`a huge ${flag}: the line names ${flag} (not only --lr)`, async () => {
      const line = await refused(["train", corpus, "--out", at(`div${flag}`), ...SMALL, "--optimizer", "sgd", "--lr", "0.1", "--clip", "0", flag, value, "--steps", "30"], 1);
      expect(line).toMatch(/^rnn: error: training diverged at step \d+: /);
      expect(line).toContain(`Lower ${flag} (now 1e+30) in a new run (they cannot change on --resume), or lower --lr (now 0.1) or use --clip (now off)`);
    }, 60_000);
  }

  it("--forget-bias, set far from its default, is named with the others", async () => {
    const line = await refused(["train", corpus, "--out", at("div-fb"), ...SMALL, "--optimizer", "sgd", "--lr", "0.1", "--clip", "0", "--weight-decay", "1e30",
      "--forget-bias", "50", "--steps", "30"], 1);
    expect(line).toContain("Lower --weight-decay (now 1e+30), --forget-bias (now 50) in a new run");
  }, 60_000);
});

describe.concurrent("sizes", () => {
  it("flags beyond what a checkpoint may hold are refused before anything is written", async () => {
    const cases: [string[], RegExp][] = [
      [["--hidden", "70000"], /^rnn: error: --hidden must be at most 65,536 \(the largest a checkpoint rnn loads may hold\), got 70000$/],
      [["--layers", "2000"], /^rnn: error: --layers must be at most 1,024/],
      [["--threads", "5000"], /^rnn: error: --threads must be at most 4,096/],
      [["--hidden", "20000", "--layers", "2"], /^rnn: error: the model \(lstm 2×20000, one-hot, V=\d+\) has [\d,]+ parameters, more than a checkpoint rnn loads may hold \(1,073,741,824\): lower --hidden or --layers$/],
    ];
    for (const [flags, line] of cases) {
      expect(await refused(["train", corpus, "--out", at("big", "run"), ...SMALL, ...flags, "--steps", "2"], 2)).toMatch(line);
    }
    expect(fs.existsSync(at("big"))).toBe(false);
  }, 60_000);

  it("a --time too long to be a number is refused (it was stored as null: a checkpoint that would not load)", async () => {
    expect(await refused(["train", corpus, "--out", at("time", "run"), ...SMALL, "--time", `${"9".repeat(400)}s`], 2)).toMatch(/^rnn: error: --time must be a positive duration/);
  }, 60_000);

  it("a model too large for training memory: the line names --hidden (not 'wasm kernels: out of memory')", async () => {
    const line = await refused(["train", corpus, "--out", at("oom", "run"), ...SMALL, "--hidden", "2048", "--threads", "1", "--steps", "2"], 1, { env: { RNN_WASM_MAX_MEMORY: "64M" } });
    expect(line).toMatch(/^rnn: error: the model \(lstm 1×2048, one-hot, V=\d+\) does not fit in memory for training \(the kernels may use at most 67 MB\): --hidden 2048 \(parameters grow with its square: [\d.]+M parameters, about [\d.]+ MB with gradients and optimizer state\); lower --hidden$/);
    expect(fs.existsSync(at("oom"))).toBe(false);
  }, 60_000);

  it("--batch × --seq too large for training memory: the line names them", async () => {
    const big = makeCorpus(tmp.dir, 400_000, "big.txt");
    const line = await refused(["train", big, "--out", at("oom2", "run"), "--hidden", "64", "--layers", "1", "--batch", "2000", "--seq", "100", "--threads", "1", "--steps", "2"], 1,
      { env: { RNN_WASM_MAX_MEMORY: "64M" } });
    expect(line).toMatch(/^rnn: error: the model \(.*\) does not fit in memory for training \(.*\): --batch 2000 × --seq 100 \(200\.0k characters per step: about [\d.]+ [MG]B of activations with --hidden 64\); lower --batch or --seq$/);
  }, 60_000);

  it("eval, sample on a checkpoint too large for memory here: the line names its hidden width", async () => {
    const dir = at("wide");
    await ok(["train", corpus, "--out", dir, "--hidden", "700", "--layers", "1", "--batch", "2", "--seq", "4", "--optimizer", "sgd", "--steps", "1", "-q"]);
    const env = { RNN_WASM_MAX_MEMORY: "8M" };
    for (const cmd of [["eval", "--model", dir], ["sample", "--model", dir, "--length", "5"]]) {
      const line = await refused(cmd, 1, { env });
      expect(line).toMatch(
        new RegExp(`^rnn: error: ${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/latest\\.safetensors: its model \\(lstm 1×700, one-hot, V=\\d+: [\\d.]+M parameters, [\\d.]+ MB of weights\\) does not fit in memory here \\(the kernels may use at most 8\\.4 MB\\): its hidden width 700 is too large for this machine \\(parameters grow with its square\\); use it where there is more memory \\(or raise RNN_WASM_MAX_MEMORY, up to 4G\\)$`),
      );
      expect(line).not.toMatch(/asked for/);
    }
    // and with room, it evaluates
    await ok(["eval", "--model", dir, "--json"]);
    readCheckpointFile(path.join(dir, "latest.safetensors"));
  }, 60_000);
});

void events;
