// The raw weights of an `rnn train --ema` run as a model file of their own, to score the same run with and
// without its average (docs/quality.md, "Weight averaging"). Its latest.safetensors holds the average; its
// latest.state.safetensors the raw weights (tensor `params`), which this writes out with the model's metadata
// (less a --calibrate run's temperature, which belongs to the average).
//
//   npx tsx scripts/raw-weights.ts RUN OUT.safetensors
//   rnn eval --model OUT.safetensors HELD-OUT.txt          # against: rnn eval --model RUN HELD-OUT.txt
import path from "node:path";
import { loadModel, loadRunState, saveModel } from "../src/checkpoint/checkpoint.ts";
import { createWasmKernels } from "../src/kernels/wasm.ts";
import { LATEST } from "../src/run/dir.ts";

const [run, out] = process.argv.slice(2);
if (!run || !out) {
  console.error("usage: npx tsx scripts/raw-weights.ts RUN OUT.safetensors");
  process.exit(2);
}
const { model, meta } = loadModel(path.join(run, LATEST), createWasmKernels());
const state = loadRunState(run, meta.step);
if (!state.params) {
  console.error(`raw-weights: ${run} was not trained with --ema: its ${LATEST} holds the raw weights already`);
  process.exit(1);
}
model.params.data.set(state.params);
// the raw weights as they trained: a --calibrate run's temperature was fitted to (and applied to) the average only
const { calibration: _fitted, ...raw } = meta;
saveModel(out, model, raw);
console.log(`${out}: the raw weights of ${run} at step ${meta.step}`);
