// Issue 14, defect 4: resume notices an edited corpus. rnn train stores a fingerprint of the training text
// (per file: size and SHA-256; the character count) in the run's training state; --resume refuses a changed
// text — cut in half, or "the" → "teh" with the same vocabulary, which nothing else would notice — with one
// line saying what changed and suggesting --init-from. The same text elsewhere (a copy) resumes. A run saved
// before fingerprints (no fingerprint in its state) resumes without the check.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeState, encodeState } from "../src/checkpoint/checkpoint.ts";
import { readCorpus } from "../src/corpus/corpus.ts";
import { fingerprintFiles, parseFingerprint } from "../src/corpus/fingerprint.ts";
import { readCheckpointFile } from "../src/io/safetensors.ts";
import { errLines, makeCorpus, rnn, SMALL, snapshot, tempDir } from "./helpers/cli.ts";

const tmp = tempDir("fingerprint");
afterAll(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const TRAIN = [...SMALL, "--threads", "1", "--steps", "6", "--eval-every", "3", "-q"];
const stateOf = (dir: string) => path.join(dir, "latest.state.safetensors");

/** A run trained on its own copy of the corpus (so each test may edit its text). */
async function runOn(name: string): Promise<{ dir: string; text: string }> {
  const text = makeCorpus(tmp.dir, 3000, `${name}.txt`);
  const dir = at(name);
  const r = await rnn(["train", text, "--out", dir, ...TRAIN]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return { dir, text };
}

/** --resume DIR to step 9: exit code and stderr lines. */
async function resume(dir: string, ...extra: string[]) {
  const r = await rnn(["train", ...extra, "--resume", dir, "--steps", "9", "-q"]);
  return { code: r.code, lines: errLines(r.stderr) };
}

let vocabOf: (file: string) => string;
beforeAll(() => {
  vocabOf = (file) => readCorpus([file]).vocab.join("");
});

describe.concurrent("the fingerprint of the training text", () => {
  it("is stored in the training state: size and SHA-256 per file, the character count", async () => {
    const { dir, text } = await runOn("stored");
    const fp = parseFingerprint(readCheckpointFile(stateOf(dir)).metadata.fingerprint);
    expect(fp).toEqual(fingerprintFiles([text], 3000));
    expect(fp).toMatchObject({ bytes: 3000, chars: 3000, files: [{ bytes: 3000 }] });
  }, 60_000);

  it("a corpus cut in half (same vocabulary): refused in one line that says what changed and suggests --init-from", async () => {
    const { dir, text } = await runOn("cut");
    const before = snapshot(dir);
    const vocab = vocabOf(text);
    fs.writeFileSync(text, fs.readFileSync(text, "utf8").slice(0, 1500));
    expect(vocabOf(text)).toBe(vocab); // nothing but the fingerprint can tell
    const r = await resume(dir);
    expect(r.lines).toEqual([
      `rnn: error: the training text has changed since this run was made: corpus '${text}' was 3,000 bytes, now 1,500 (-50%); 3,000 characters then, 1,500 now. ` +
        `--resume continues only on the same text; to train on the new text, start a new run from this one's weights: rnn train FILE... --init-from ${dir}`,
    ]);
    expect(r.code).toBe(1);
    expect(snapshot(dir)).toEqual(before); // nothing touched
  }, 60_000);

  it('"the" → "teh" (same size, same vocabulary): refused, naming the file given on the command line', async () => {
    const { dir, text } = await runOn("teh");
    const vocab = vocabOf(text);
    const s = fs.readFileSync(text, "utf8");
    expect(s).toContain("the");
    fs.writeFileSync(text, s.replaceAll("the", "teh"));
    expect(vocabOf(text)).toBe(vocab);
    for (const args of [[], [text]]) {
      const r = await resume(dir, ...args);
      expect(r.lines).toHaveLength(1);
      expect(r.lines[0]).toMatch(/^rnn: error: the training text has changed since this run was made: corpus '.*teh\.txt' has the same size \(3,000 bytes\) but different content\. .*--init-from /);
      expect(r.code).toBe(1);
    }
  }, 60_000);

  it("the same text under another name resumes (paths are not part of the fingerprint)", async () => {
    const { dir, text } = await runOn("copied");
    const copy = at("elsewhere.txt");
    fs.copyFileSync(text, copy);
    fs.rmSync(text);
    const r = await resume(dir, copy);
    expect(r.lines).toEqual([]);
    expect(r.code).toBe(0);
  }, 60_000);

  it("a run saved before fingerprints resumes on an edited text without the check, and is fingerprinted from then on", async () => {
    const { dir, text } = await runOn("older");
    const f = stateOf(dir);
    fs.writeFileSync(f, encodeState({ ...decodeState(fs.readFileSync(f), f), fingerprint: null }));
    expect(readCheckpointFile(f).metadata.fingerprint).toBeUndefined();
    const s = fs.readFileSync(text, "utf8");
    fs.writeFileSync(text, s.replaceAll("the", "teh"));
    const r = await resume(dir);
    expect(r.lines).toEqual([]);
    expect(r.code).toBe(0);
    expect(parseFingerprint(readCheckpointFile(f).metadata.fingerprint)).toEqual(fingerprintFiles([text], 3000));
  }, 60_000);
});
