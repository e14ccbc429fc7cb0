// Not one output byte changes: for every configuration of the matrix in scripts/pin-outputs.mjs, this checkout's
// `rnn train` must write the same tensor data (latest, best, and the training state) and the same
// metrics.jsonl, and `rnn sample` / `rnn eval --json` must print the same bytes, as the checkout the fixture was
// made from. Only tensor data is compared, not the safetensors header or __metadata__.
//
// Regenerate the fixture from the checkout whose outputs are the reference (not this one, unless it is):
//
//   node scripts/pin-outputs.mjs --rnn <old checkout>/bin/rnn.js --out test/fixtures/pinned-outputs.json
//
// Regenerating is only legitimate when an output change is intended (a new default, a fixed bug, a deliberately
// different numeric path), and the commit that does it should say which outputs change and why. A refactor that
// fails this test changed behaviour: fix the refactor, not the fixture. Adding a configuration to the matrix
// also means regenerating, from the reference checkout.
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONFIGS, type PinnedConfig as Pinned, runConfig, writeCorpus } from "../scripts/pin-outputs.mjs";
import { BIN, tempDir } from "./helpers/cli.ts";

const FIXTURE = new URL("./fixtures/pinned-outputs.json", import.meta.url);
const fixture: { configs: Record<string, Pinned> } = JSON.parse(fs.readFileSync(FIXTURE, "utf8"));

/** Every difference between expected and actual, one line each, naming the config, file and tensor. */
function differences(name: string, want: Pinned, got: Pinned): string[] {
  const out: string[] = [];
  const files = new Set([...Object.keys(want.tensors), ...Object.keys(got.tensors)]);
  for (const file of files) {
    const w = want.tensors[file] ?? {}, g = got.tensors[file] ?? {};
    for (const tensor of new Set([...Object.keys(w), ...Object.keys(g)])) {
      if (!(tensor in g)) out.push(`${name}: ${file}: tensor ${tensor} missing`);
      else if (!(tensor in w)) out.push(`${name}: ${file}: unexpected tensor ${tensor}`);
      else if (w[tensor] !== g[tensor]) out.push(`${name}: ${file}: tensor ${tensor} data differs (sha256 ${g[tensor]}, pinned ${w[tensor]})`);
    }
  }
  if (got.metrics !== want.metrics) out.push(`${name}: metrics.jsonl differs:\n  got    ${JSON.stringify(got.metrics)}\n  pinned ${JSON.stringify(want.metrics)}`);
  if (got.sample !== want.sample) out.push(`${name}: rnn sample stdout differs (sha256 ${got.sample}, pinned ${want.sample})`);
  if (got.sampleExtra !== want.sampleExtra) out.push(`${name}: rnn sample --temperature 0.7 --top-k 5 -n 2 stdout differs (sha256 ${got.sampleExtra}, pinned ${want.sampleExtra})`);
  if (got.eval !== want.eval) out.push(`${name}: rnn eval --json stdout differs:\n  got    ${JSON.stringify(got.eval)}\n  pinned ${JSON.stringify(want.eval)}`);
  return out;
}

describe("pinned outputs (scripts/pin-outputs.mjs vs test/fixtures/pinned-outputs.json)", () => {
  let dir: string, cleanup: () => void, corpus: string;
  beforeAll(() => {
    ({ dir, cleanup } = tempDir("pin"));
    corpus = writeCorpus(dir);
  });
  afterAll(() => cleanup?.());

  it("the fixture covers exactly the matrix, with the same flags", () => {
    expect(Object.keys(fixture.configs), "configurations in the fixture vs CONFIGS in scripts/pin-outputs.mjs").toEqual(CONFIGS.map((c) => c.name));
    for (const c of CONFIGS) expect(fixture.configs[c.name].flags, `flags of ${c.name}`).toEqual(c.flags);
  });

  // One configuration after another (a train, one or two samples and an eval each); no wall-clock limits beyond
  // a generous timeout, so that a loaded machine only makes it slower.
  it.for(CONFIGS)("$name", { timeout: 600_000 }, async (config) => {
    const want = fixture.configs[config.name];
    expect(want, `${config.name} is not in the fixture: regenerate it from the reference checkout`).toBeDefined();
    const got = await runConfig(BIN, corpus, dir, config);
    expect(differences(config.name, want, got)).toEqual([]);
  });
});
