// When a model does not fit in memory: which setting makes it too large. The kernels only know how many bytes
// they were asked for ("wasm kernels: out of memory (asked for 160171200336 bytes)"); this turns that into one
// line naming the model, its size, and the setting to lower — the hidden width (parameters grow with its
// square), the vocabulary or embedding, or, when training, --batch × --seq (the activations of one step).
import type { ModelConfig } from "../config.ts";
import { RnnError } from "../errors.ts";
import { KernelMemoryError } from "../kernels/wasm-memory.ts";
import { cellOf } from "./cells/index.ts";
import { paramSpec } from "./params.ts";

/** True for an allocation that failed for want of memory (the kernels' own limit, or the JS heap's). */
export function isOutOfMemory(err: unknown): boolean {
  if (err instanceof KernelMemoryError) return true;
  return err instanceof RangeError && /allocation failed|Invalid typed array length|Array buffer allocation|out of memory/i.test(err.message);
}

/** 1536 → "1.5 kB", 6.4e9 → "6.4 GB" */
export function sizeText(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes, i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const count = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}G` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n));

/**
 * Which setting makes the parameter count large: the hidden width (the recurrent matrices grow with its square)
 * or the vocabulary side (one-hot input and decoder: V × H; an embedding: V × E). `flags`: name command-line
 * flags (a new run) rather than a checkpoint's settings.
 */
function paramCulprit(m: ModelConfig, flags: boolean): { what: string; why: string } {
  const G = cellOf(m).gates.length;
  const recurrent = (2 * m.layers - 1) * G * m.hidden * m.hidden;
  const vocabSide = m.vocabSize * m.hidden * (m.embed > 0 ? 1 : G + 1) + m.vocabSize * m.embed + G * m.hidden * m.embed;
  const layers = m.layers > 1 ? ` × ${m.layers} ${flags ? "--layers" : "layers"}` : "";
  if (vocabSide > recurrent) {
    if (m.embed > m.hidden) return { what: `${flags ? "--embed" : "its embedding width"} ${m.embed}`, why: `× a vocabulary of ${m.vocabSize} characters` };
    return { what: `${flags ? "--hidden" : "its hidden width"} ${m.hidden}`, why: `× a vocabulary of ${m.vocabSize} characters${layers}` };
  }
  return { what: `${flags ? "--hidden" : "its hidden width"} ${m.hidden}`, why: `parameters grow with its square${layers}` };
}

function limitText(err: unknown): string {
  return err instanceof KernelMemoryError ? `the kernels may use at most ${sizeText(err.limit)}` : "the JavaScript heap is full";
}

/**
 * The one-line error for a checkpoint whose model does not fit (rnn eval, sample, …): the model, its size, and
 * the setting that makes it too large. `err` is what the allocation threw.
 */
export function modelTooLarge(file: string, m: ModelConfig, describe: string, err: unknown): RnnError {
  const P = paramSpec(m).size;
  const c = paramCulprit(m, false);
  return new RnnError(
    `${file}: its model (${describe}: ${count(P)} parameters, ${sizeText(4 * P)} of weights) does not fit in memory here (${limitText(err)}): ` +
      `${c.what} is too large for this machine (${c.why}); use it where there is more memory${err instanceof KernelMemoryError && err.limit < 2 ** 32 ? " (or raise RNN_WASM_MAX_MEMORY, up to 4G)" : ""}`,
  );
}

/** What training needs, roughly: weights, their packed copy, gradients, optimizer moments; one step's activations. */
function trainingBytes(m: ModelConfig, o: { batch: number; seq: number; slots: number }) {
  const cell = cellOf(m), G = cell.gates.length;
  const weights = 4 * paramSpec(m).size * (3 + o.slots);
  const N = o.batch * o.seq;
  const normed = cell.norm ? 2 * G + 2 : 0; // --norm: x̂ of both projections (and of c_t, tanh of its normalisation)
  const activations = 4 * (N * m.layers * m.hidden * (G + 4 + normed) + 2 * N * m.vocabSize);
  return { weights, activations };
}

/** The one-line error for a new run that does not fit: which of --hidden / --layers or --batch × --seq to lower. */
export function trainingTooLarge(m: ModelConfig, o: { batch: number; seq: number; slots: number; describe: string }, err: unknown): RnnError {
  const P = paramSpec(m).size;
  const { weights, activations } = trainingBytes(m, o);
  const culprit = activations > weights
    ? `--batch ${o.batch} × --seq ${o.seq} (${count(o.batch * o.seq)} characters per step: about ${sizeText(activations)} of activations with --hidden ${m.hidden}); lower --batch or --seq`
    : (() => {
      const c = paramCulprit(m, true);
      const flag = c.what.split(" ")[0];
      return `${c.what} (${c.why}: ${count(P)} parameters, about ${sizeText(weights)} with gradients and optimizer state); lower ${flag}${m.layers > 1 ? " or --layers" : ""}`;
    })();
  return new RnnError(`the model (${o.describe}) does not fit in memory for training (${limitText(err)}): ${culprit}`);
}
