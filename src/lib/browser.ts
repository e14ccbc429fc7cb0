// rnn as a library, in a browser bundle (package.json's "browser" condition picks this file over src/api.ts):
// the same generate, predict and score, on the same WebAssembly kernels and sampling code, with loadModel
// taking the checkpoint's bytes. Nothing here or below it imports Node: package.json's "browser" map swaps
// the three Node-bound kernel files for src/web/kernels/ (embedded builds, non-shared memory, no helper
// thread), and the checkpoint is decoded by ./checkpoint-bytes.ts. Bundle with esbuild's binary loader for
// .wasm (src/web/bundle.ts does).
import { createWasmKernels } from "../kernels/wasm.ts";
import { loadKernelModule } from "../web/kernels/wasm-module.ts";
import { checkpointMeta, decodeCheckpoint, modelFromCheckpoint } from "./checkpoint-bytes.ts";
import { type RnnModel, wrapModel } from "./core.ts";
import { pooled } from "./pool.ts";

export { generate, generateStream, predict, score } from "./core.ts";
export type {
  Candidate, CharScore, GenerateOptions, GenerateResult, Prediction, PredictOptions, RnnModel, ScoreResult, ScoreTotals,
} from "./core.ts";
export { RnnError, UsageError } from "../errors.ts";

const PAGE = 65536;

/**
 * Loads a model from the bytes of an rnn checkpoint (a .safetensors file of `rnn train`), checked as the
 * CLI checks it. `name` names it in error messages.
 */
export async function loadModel(bytes: Uint8Array | ArrayBuffer, opts: { name?: string } = {}): Promise<RnnModel> {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const what = opts.name ?? "the checkpoint";
  const contents = decodeCheckpoint(buf, what);
  await loadKernelModule();
  // the memory cannot grow (see src/web/kernels/wasm-memory.ts): room for the weights and what pack()
  // derives from them, and for the largest workspaces (a 256-step chunk of score, twice) with margin
  const m = checkpointMeta(contents, what).config.model;
  const perStep = m.layers * 12 * m.hidden + 3 * m.vocabSize + m.embed;
  const bytesNeeded = 4 * buf.length + 2 * 2 * 256 * 4 * perStep + (16 << 20);
  const ops = pooled(createWasmKernels({ initialPages: Math.ceil(bytesNeeded / PAGE) }));
  const { model, meta } = modelFromCheckpoint(contents, what, ops);
  return wrapModel(model as RnnModel["net"], meta);
}
