// `rnn import`: a model written by PyTorch becomes an rnn run directory that sample / eval / info / resume take.
//
// Input: one or more safetensors files (shards are merged) or a torch.save'd state_dict (.pt). Node cannot
// unpickle, so a .pt goes through Python: `python3 python/rnn_torch.py convert X.pt --out Y.safetensors`, run
// here with the first interpreter that can import torch ($RNN_PYTHON, else python3, /usr/bin/python3, python);
// torch.load runs with weights_only=True, so the pickle cannot execute code.
//
// The tensors may carry rnn's names (embedding.weight, rnn.weight_ih_l{k}, …, decoder.weight/bias), or those of
// any module built from nn.RNN / nn.LSTM / nn.GRU, an optional nn.Embedding and an nn.Linear decoder: the
// recurrent tensors are recognised by their nn.LSTM-style names (`weight_ih_l0`, `lstm.weight_hh_l1`, …, one
// common prefix), the decoder as the one module with a weight [V × H] and a bias [V], the embedding as the one
// module with only a weight [V × In₀]. A "module." (DataParallel) or "_orig_mod." (torch.compile) prefix on
// every name is dropped. From the shapes: H = columns of weight_hh_l0, G = its rows / H (1 rnn, 3 gru,
// 4 lstm), L = the number of layers, E = the embedding's columns (0: one-hot, weight_ih_l0 has V columns).
// What the shapes cannot say comes from flags (--activation for rnn cells, --residual) or from the file's
// metadata when it has rnn's `config`. One cell the shapes cannot tell at all: the LSTM without forget gate
// (`--cell lstm --no-forget-gate`, nn.LSTM's names with rows [i, g, o]) has G = 3, as a GRU. A file whose
// config says cell "lstm", forgetGate false (one rnn or rnn_torch.py wrote, or `rnn_torch.py convert
// --config`) imports as that; without such a config, 3H rows are a GRU.
//
// The vocabulary (--vocab FILE: a text whose distinct characters, sorted by code point as rnn's corpus reader
// sorts them, are the vocabulary; or FILE.json, a JSON list of one-character strings in the model's index
// order; or the file's own `vocab` metadata) must have V entries. A list that is not in code-point order is
// sorted, and the rows and columns that index the vocabulary (embedding rows, one-hot weight_ih_l0 columns,
// decoder rows and bias) are permuted with it, so the run resumes on its corpus, whose vocabulary rnn sorts.
//
// Output: OUT/latest.safetensors (rnn's model file, step from the metadata or 0) and OUT/latest.state.safetensors
// (a fresh training state at that step: zero optimizer moments, zero carried state, the RNG seeded by --seed),
// so `rnn train --resume OUT [CORPUS] --steps N` fine-tunes. The training config is rnn's defaults (or the
// metadata's config) with --batch / --seq / --seed, corpus = the --vocab text file.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Activation, type CellKind, type ModelConfig, resolveTrainConfig, type TrainConfig } from "../config.ts";
import { readCorpus } from "../corpus/corpus.ts";
import { RnnError, UsageError } from "../errors.ts";
import { decodeSafetensors } from "../io/safetensors.ts";
import { makeRng } from "../rng.ts";
import { commitRun, describeModel, encodeModelFile } from "./checkpoint.ts";
import { cellOf, gateCount } from "../model/cells/index.ts";
import { isRunFile, LATEST, openRunDir, STATE } from "../run/dir.ts";
import { optimizerSpec } from "../train/optim.ts";

export interface ImportOptions {
  /** run directory to write */
  out: string;
  /** text file (its sorted distinct characters) or .json list; default: the file's `vocab` metadata */
  vocab?: string;
  /** rnn cells: tanh (default) or relu; the weights cannot tell */
  activation?: Activation;
  /** y = x + f(x) between stacked layers; the weights cannot tell (default off, or the metadata's) */
  residual?: boolean;
  /** training settings stored in the run's config (a later `rnn train --resume` uses them) */
  batch?: number;
  seq?: number;
  seed?: number;
  /** replace a run already in `out` */
  force?: boolean;
  /** Python interpreter for .pt files (default $RNN_PYTHON, then python3, /usr/bin/python3, python) */
  python?: string;
}

export interface ImportResult {
  out: string;
  latest: string;
  state: string;
  model: ModelConfig;
  description: string;
  parameters: number;
  step: number;
  /** source tensor name for each of rnn's tensor names, in rnn's order */
  mapping: { name: string; from: string; shape: number[] }[];
  /** the vocabulary was re-ordered by code point (and the model's rows/columns with it) */
  permuted: boolean;
  /** the cell came from the shapes alone (the file has no rnn config): 3H rows read as a GRU, which an LSTM
   *  without forget gate also has */
  cellFromShapes: boolean;
  config: TrainConfig;
}

interface Tensor {
  shape: number[];
  /** null: not a float dtype */
  data: Float32Array | null;
  dtype: string;
  file: string;
}

const RECURRENT = /^(?:(.+)\.)?(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$/;
const PROJECTION = /^(?:(.+)\.)?weight_hr_l\d+(_reverse)?$/;
/** a tensor of rnn's --norm (rnn.norm_ih_l0.weight, …; params.ts) */
const NORM_TENSOR = /(?:^|\.)norm_(?:ih|hh|c)_l\d+\.(?:weight|bias|running_mean|running_var)$/;
const CELL_OF_GATES: Record<number, CellKind> = { 1: "rnn", 3: "gru", 4: "lstm" };
const one = (s: string) => s.replace(/[\x00-\x1f\x7f]+/g, " ");
const dims = (s: number[]) => `[${s.join("×")}]`;

/** The Python companion shipped with rnn. */
export const RNN_TORCH_PY = fileURLToPath(new URL("../../python/rnn_torch.py", import.meta.url));

// ---- reading ---------------------------------------------------------------------------------------------

function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const DTYPE_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U16: 2, U32: 4, U64: 8 };

/** Any safetensors file: float tensors (F32, F64, F16, BF16) as Float32Array, others kept as shape only. */
function readSafetensorsLenient(buf: Buffer, what: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.toString("utf8", 8, 8 + Number(buf.readBigUInt64LE(0))));
  } catch {
    throw new RnnError(`${one(what)} is not a safetensors file: its header is not JSON; check the path`);
  }
  const allF32 = Object.entries(header).every(([k, v]) => k === "__metadata__" || (v as { dtype?: string })?.dtype === "F32");
  if (allF32) {
    // rnn's own strict decoder: every structural check, and a checksum that is present is verified
    const d = decodeSafetensors(buf, what, { strict: false });
    const tensors = new Map<string, Tensor>();
    for (const [n, t] of d.tensors) tensors.set(n, { shape: t.shape, data: t.data, dtype: "F32", file: what });
    return { tensors, metadata: d.metadata };
  }
  const N = Number(buf.readBigUInt64LE(0));
  const base = 8 + N;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, Tensor>();
  let end = 0;
  for (const [name, e] of Object.entries(header)) {
    if (name === "__metadata__") {
      for (const [k, v] of Object.entries((e ?? {}) as Record<string, unknown>)) if (typeof v === "string") metadata[k] = v;
      continue;
    }
    const { dtype, shape, data_offsets: offs } = (e ?? {}) as { dtype?: string; shape?: number[]; data_offsets?: number[] };
    const size = dtype ? DTYPE_BYTES[dtype] : undefined;
    if (!size || !Array.isArray(shape) || !Array.isArray(offs) || offs.length !== 2) {
      throw new RnnError(`${one(what)} is corrupt or of an unknown kind: tensor ${JSON.stringify(name)} has dtype ${JSON.stringify(dtype)}`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    const [a, b] = offs;
    if (b - a !== count * size || base + b > buf.length) throw new RnnError(`${one(what)} is corrupt: tensor ${JSON.stringify(name)} does not fit its data_offsets`);
    end = Math.max(end, b);
    let data: Float32Array | null = null;
    const dv = new DataView(buf.buffer, buf.byteOffset + base + a, b - a);
    if (dtype === "F32") data = Float32Array.from({ length: count }, (_, i) => dv.getFloat32(4 * i, true));
    else if (dtype === "F64") data = Float32Array.from({ length: count }, (_, i) => dv.getFloat64(8 * i, true));
    else if (dtype === "F16") data = Float32Array.from({ length: count }, (_, i) => f16(dv.getUint16(2 * i, true)));
    else if (dtype === "BF16") {
      const u = new Uint32Array(count);
      for (let i = 0; i < count; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      data = new Float32Array(u.buffer);
    }
    tensors.set(name, { shape: shape.slice(), data, dtype: dtype as string, file: what });
  }
  if (base + end !== buf.length) throw new RnnError(`${one(what)} is corrupt: its size does not match its header`);
  return { tensors, metadata };
}

function isPickle(buf: Buffer): boolean {
  return (buf.length >= 4 && buf.readUInt32BE(0) === 0x504b0304) /* zip: torch.save since 1.6 */ || (buf.length >= 2 && buf[0] === 0x80 && buf[1] <= 5) /* pickle */;
}

/** A torch.save'd state_dict → the bytes of a plain safetensors file, through python/rnn_torch.py convert. */
export function convertPt(file: string, python?: string): Buffer {
  const tried: string[] = [];
  const candidates = python ? [python] : process.env.RNN_PYTHON ? [process.env.RNN_PYTHON] : ["python3", "/usr/bin/python3", "python"];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnn-import-"));
  const out = path.join(dir, "converted.safetensors");
  try {
    for (const py of candidates) {
      const r = spawnSync(py, [RNN_TORCH_PY, "convert", file, "--out", out], { encoding: "utf8", timeout: 600_000 });
      tried.push(py);
      if (r.error) {
        if ((r.error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw new RnnError(`cannot run ${py} to read ${one(file)}: ${one(r.error.message)}`);
      }
      if (r.status === 3) continue; // this Python has no torch
      if (r.status !== 0) {
        const last = (r.stderr || "").trim().split("\n").pop() ?? "";
        throw new RnnError(`${one(file)}: ${one(last.replace(/^rnn_torch: error: /, "")) || `${py} exited with ${r.status ?? r.signal}`}`);
      }
      return fs.readFileSync(out);
    }
    throw new RnnError(
      `${one(file)} is a PyTorch pickle (torch.save), and reading one needs Python with PyTorch: none found (tried ${tried.join(", ")}); ` +
        `set RNN_PYTHON, or convert it where PyTorch is: python3 ${RNN_TORCH_PY} convert ${one(file)} --out model.safetensors`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function readSource(file: string, python?: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(code === "ENOENT" ? `no file at ${one(file)}: check the path` : `cannot read ${one(file)}: ${code ?? String(e)}`);
  }
  if (isPickle(buf)) return readSafetensorsLenient(convertPt(file, python), file);
  if (buf.length < 10 || buf[8] !== 0x7b) {
    throw new RnnError(`${one(file)} is neither a safetensors file nor a torch.save'd state_dict; check the path`);
  }
  return readSafetensorsLenient(buf, file);
}

/** --vocab FILE: a .json list of characters, or a text whose distinct characters (sorted) are the vocabulary. */
export function readVocab(file: string): string[] {
  if (/\.json$/i.test(file)) {
    let v: unknown;
    try {
      v = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
      throw new UsageError(`--vocab ${one(file)}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : "not a JSON list of characters"}`);
    }
    if (!Array.isArray(v) || !v.every((c) => typeof c === "string")) throw new UsageError(`--vocab ${one(file)} must hold a JSON list of one-character strings`);
    return v as string[];
  }
  return readCorpus([file]).vocab;
}

// ---- inference -------------------------------------------------------------------------------------------

interface Inferred {
  model: ModelConfig;
  /** rnn name → source name */
  names: Map<string, string>;
}

function inferModel(tensors: Map<string, Tensor>, what: string, hint: { activation?: Activation; residual?: boolean; forgetGate?: boolean }): Inferred {
  const get = (n: string) => tensors.get(n)!;
  // recurrent tensors: one prefix, layers 0..L-1
  const prefixes = new Set<string>();
  const layers = new Map<number, Map<string, string>>();
  const others = new Map<string, Map<string, string>>(); // module → leaf → full name
  for (const name of tensors.keys()) {
    if (PROJECTION.test(name)) throw new RnnError(`${what}: tensor ${one(name)} is an LSTM projection (proj_size); rnn's LSTM has none`);
    const m = RECURRENT.exec(name);
    if (m) {
      if (m[4]) throw new RnnError(`${what}: tensor ${one(name)} belongs to a bidirectional layer; rnn's models run forward only`);
      prefixes.add(m[1] ?? "");
      const k = Number(m[3]);
      if (!layers.has(k)) layers.set(k, new Map());
      layers.get(k)!.set(m[2], name);
      continue;
    }
    const dot = name.lastIndexOf(".");
    const mod = dot < 0 ? "" : name.slice(0, dot), leaf = name.slice(dot + 1);
    if (!others.has(mod)) others.set(mod, new Map());
    others.get(mod)!.set(leaf, name);
  }
  if (layers.size === 0) {
    throw new RnnError(`${what} has no recurrent weights (weight_ih_l0, weight_hh_l0, … as nn.RNN / nn.LSTM / nn.GRU name them); tensors: ${[...tensors.keys()].slice(0, 6).map(one).join(", ")}`);
  }
  if (prefixes.size > 1) throw new RnnError(`${what} has recurrent weights of two modules (${[...prefixes].map((p) => p || "(top level)").join(", ")}); rnn's model has one stack`);
  const L = layers.size;
  for (let k = 0; k < L; k++) if (!layers.has(k)) throw new RnnError(`${what}: the recurrent layers are not numbered 0…${L - 1} (layer ${k} is missing)`);
  const pre = [...prefixes][0];
  const src = (k: number, kind: string): string => {
    const n = layers.get(k)!.get(kind);
    if (!n) {
      const want = `${pre ? pre + "." : ""}${kind}_l${k}`;
      throw new RnnError(`${what} lacks ${one(want)}${kind.startsWith("bias") ? " (a layer built with bias=False? rnn's cells always have biases)" : ""}`);
    }
    return n;
  };
  const whh0 = get(src(0, "weight_hh"));
  if (whh0.shape.length !== 2) throw new RnnError(`${what}: ${one(src(0, "weight_hh"))} has shape ${dims(whh0.shape)}, expected [G·H×H]`);
  const H = whh0.shape[1], rows = whh0.shape[0];
  const noForget = hint.forgetGate === false; // the config says: the LSTM without forget gate, G = 3
  if (noForget && rows !== 3 * H) {
    throw new RnnError(`${what}: ${one(src(0, "weight_hh"))} has shape ${dims(whh0.shape)}, but its config says lstm without forget gate: expected [${3 * H}×${H}] (gates i, g, o)`);
  }
  const cell = noForget ? "lstm" : rows % H === 0 ? CELL_OF_GATES[rows / H] : undefined;
  if (!cell) throw new RnnError(`${what}: ${one(src(0, "weight_hh"))} has shape ${dims(whh0.shape)}: its rows are not 1, 3 or 4 times H = ${H} (rnn, gru, lstm)`);
  const G = rows / H;
  const kind = noForget ? "lstm without forget gate" : cell;
  const wih0 = get(src(0, "weight_ih"));
  if (wih0.shape.length !== 2) throw new RnnError(`${what}: ${one(src(0, "weight_ih"))} has shape ${dims(wih0.shape)}, expected [${G * H}×In]`);
  const In0 = wih0.shape[1];
  for (let k = 0; k < L; k++) {
    const expect: [string, number[]][] = [["weight_ih", [G * H, k === 0 ? In0 : H]], ["weight_hh", [G * H, H]], ["bias_ih", [G * H]], ["bias_hh", [G * H]]];
    for (const [kind, shape] of expect) {
      const n = src(k, kind), t = get(n);
      if (t.shape.join("×") !== shape.join("×")) {
        throw new RnnError(`${what}: tensor ${one(n)} has shape ${dims(t.shape)}, expected ${dims(shape)} for a ${L}-layer ${kind} of width ${H}`);
      }
    }
  }
  // decoder: the one module with weight [V × H] and bias [V]
  const decoders = [...others].filter(([, leaves]) => {
    const w = leaves.get("weight"), b = leaves.get("bias");
    if (!w || !b || leaves.size !== 2) return false;
    const ws = get(w).shape, bs = get(b).shape;
    return ws.length === 2 && ws[1] === H && bs.length === 1 && bs[0] === ws[0];
  });
  if (decoders.length === 0) {
    const lin = [...others].find(([, l]) => l.has("weight") && l.has("bias"));
    const why = lin ? `: ${one(lin[1].get("weight")!)} has shape ${dims(get(lin[1].get("weight")!).shape)}, expected [V×${H}]` : "";
    throw new RnnError(`${what} has no decoder (a Linear(${H}, V) module with weight [V×${H}] and bias [V])${why}`);
  }
  if (decoders.length > 1) throw new RnnError(`${what} has two modules that could be the decoder (${decoders.map(([m]) => m || "(top level)").join(", ")}); keep only the output layer`);
  const [decMod, decLeaves] = decoders[0];
  others.delete(decMod);
  const V = get(decLeaves.get("weight")!).shape[0];
  // embedding: the one module with only a weight [V × In0]
  const embeds = [...others].filter(([, leaves]) => {
    const w = leaves.get("weight");
    return !!w && leaves.size === 1 && get(w).shape.length === 2 && get(w).shape[0] === V && get(w).shape[1] === In0;
  });
  if (embeds.length > 1) throw new RnnError(`${what} has two modules that could be the embedding (${embeds.map(([m]) => m).join(", ")})`);
  let E = 0;
  const names = new Map<string, string>();
  if (embeds.length === 1) {
    others.delete(embeds[0][0]);
    E = In0;
    names.set("embedding.weight", embeds[0][1].get("weight")!);
  } else if (In0 !== V) {
    const cand = [...others].find(([, l]) => l.has("weight") && l.size === 1);
    const why = cand ? `: ${one(cand[1].get("weight")!)} has shape ${dims(get(cand[1].get("weight")!).shape)}, expected [${V}×${In0}]` : "";
    throw new RnnError(`${what}: ${one(src(0, "weight_ih"))} takes ${In0} inputs, but there is no embedding [${V}×${In0}] and the vocabulary (decoder rows) has ${V} for one-hot input${why}`);
  }
  const left = [...others.values()].flatMap((l) => [...l.values()]);
  if (left.length) {
    throw new RnnError(`${what}: unknown tensor ${one(left[0])} ${dims(get(left[0]).shape)}${left.length > 1 ? ` (and ${left.length - 1} more)` : ""}: rnn's model has an optional embedding, the recurrent layers and a decoder`);
  }
  for (let k = 0; k < L; k++) for (const kind of ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]) names.set(`rnn.${kind}_l${k}`, src(k, kind));
  names.set("decoder.weight", decLeaves.get("weight")!);
  names.set("decoder.bias", decLeaves.get("bias")!);
  for (const [rn, from] of names) {
    if (!get(from).data) throw new RnnError(`${what}: tensor ${one(from)} (${one(rn)}) has dtype ${get(from).dtype}; weights must be floating point`);
  }
  if (hint.activation === "relu" && cell !== "rnn") throw new UsageError(`--activation relu applies to rnn cells; ${what} holds a ${cell}`);
  const residual = !!hint.residual;
  if (residual && L < 2) throw new UsageError(`--residual needs at least 2 layers; ${what} has ${L}`);
  const model: ModelConfig = { cell, layers: L, hidden: H, embed: E, activation: cell === "rnn" ? hint.activation ?? "tanh" : "tanh", residual, vocabSize: V };
  if (noForget) model.forgetGate = false; // stored only when false, after vocabSize (as rnn train stores it)
  return { model, names };
}

/** rnn's tensor names and shapes in checkpoint order (src/model/params.ts paramSpec). */
function specOf(m: ModelConfig): { name: string; shape: number[] }[] {
  const G = gateCount(m), H = m.hidden, V = m.vocabSize, E = m.embed;
  const out: { name: string; shape: number[] }[] = [];
  if (E > 0) out.push({ name: "embedding.weight", shape: [V, E] });
  for (let k = 0; k < m.layers; k++) {
    out.push({ name: `rnn.weight_ih_l${k}`, shape: [G * H, k === 0 ? (E > 0 ? E : V) : H] });
    out.push({ name: `rnn.weight_hh_l${k}`, shape: [G * H, H] });
    out.push({ name: `rnn.bias_ih_l${k}`, shape: [G * H] });
    out.push({ name: `rnn.bias_hh_l${k}`, shape: [G * H] });
  }
  out.push({ name: "decoder.weight", shape: [V, H] }, { name: "decoder.bias", shape: [V] });
  return out;
}

// ---- import ----------------------------------------------------------------------------------------------

export function importCheckpoint(files: string[], opts: ImportOptions): ImportResult {
  if (files.length === 0) throw new UsageError("no file given: rnn import FILE.safetensors|state_dict.pt --vocab FILE --out RUN");
  if (!opts.out) throw new UsageError("--out RUN is required: the run directory to write");
  const what = files.length === 1 ? one(files[0]) : `${one(files[0])} (+${files.length - 1} shards)`;
  // read and merge
  const tensors = new Map<string, Tensor>();
  const metadata: Record<string, string> = {};
  for (const f of files) {
    const r = readSource(f, opts.python);
    for (const [n, t] of r.tensors) {
      if (tensors.has(n)) throw new RnnError(`tensor ${one(n)} is in both ${one(tensors.get(n)!.file)} and ${one(f)}`);
      tensors.set(n, t);
    }
    for (const [k, v] of Object.entries(r.metadata)) if (!(k in metadata)) metadata[k] = v;
  }
  // DataParallel / torch.compile wrappers
  for (const wrap of ["module.", "_orig_mod."]) {
    if (tensors.size && [...tensors.keys()].every((n) => n.startsWith(wrap))) {
      const renamed = [...tensors].map(([n, t]) => [n.slice(wrap.length), t] as const);
      tensors.clear();
      for (const [n, t] of renamed) tensors.set(n, t);
    }
  }
  // rnn's own config in the metadata (a file written by rnn or rnn_torch.py): hints and the training settings
  let metaCfg: TrainConfig | null = null;
  if (metadata.config !== undefined) {
    try {
      const c = JSON.parse(metadata.config);
      if (c && typeof c === "object" && c.model && typeof c.model === "object") metaCfg = c;
    } catch {
      // not rnn's: ignore
    }
  }
  // --norm: a model with normalised layers (rnn.norm_… tensors, or a config that says so) is not imported
  const normTensor = [...tensors.keys()].find((n) => NORM_TENSOR.test(n));
  if (metaCfg?.model.norm !== undefined || normTensor !== undefined) {
    const which = metaCfg?.model.norm !== undefined ? `its config says norm ${one(JSON.stringify(metaCfg.model.norm))}` : `it has ${one(normTensor!)}`;
    throw new RnnError(`${what} holds a model with normalised layers (--norm: ${which}); rnn import takes models without normalisation — a checkpoint rnn or rnn_torch.py wrote needs no import: rnn sample, eval and train --init-from read it as it is`);
  }
  if (metaCfg && opts.residual !== undefined && !!metaCfg.model.residual !== opts.residual) {
    throw new UsageError(`--residual${opts.residual ? "" : " off"} contradicts ${what}'s config (residual ${!!metaCfg.model.residual})`);
  }
  if (metaCfg && opts.activation !== undefined && metaCfg.model.cell === "rnn" && metaCfg.model.activation !== opts.activation) {
    throw new UsageError(`--activation ${opts.activation} contradicts ${what}'s config (activation ${metaCfg.model.activation})`);
  }
  const inf = inferModel(tensors, what, {
    activation: opts.activation ?? (metaCfg?.model.cell === "rnn" ? metaCfg.model.activation : undefined),
    residual: opts.residual ?? metaCfg?.model.residual,
    forgetGate: metaCfg?.model.forgetGate,
  });
  const m = inf.model;
  if (metaCfg) {
    if (metaCfg.model.forgetGate !== undefined && typeof metaCfg.model.forgetGate !== "boolean") {
      throw new RnnError(`${what}: its config says forgetGate ${one(JSON.stringify(metaCfg.model.forgetGate))}, not true or false`);
    }
    if (metaCfg.model.forgetGate === false && metaCfg.model.cell !== "lstm") {
      throw new RnnError(`${what}: its config says forgetGate false for cell ${one(String(metaCfg.model.cell))}; only the lstm has a forget gate to leave out`);
    }
    for (const k of ["cell", "layers", "hidden", "embed", "vocabSize"] as const) {
      if (metaCfg.model[k] !== m[k]) throw new RnnError(`${what}: its config says ${k} ${metaCfg.model[k]}, its tensors say ${m[k]}`);
    }
  }

  // vocabulary
  let vocab: string[];
  if (opts.vocab) vocab = readVocab(opts.vocab);
  else if (metadata.vocab !== undefined) {
    try {
      vocab = JSON.parse(metadata.vocab);
    } catch {
      throw new RnnError(`${what}: its metadata 'vocab' is not a JSON list; give --vocab FILE`);
    }
    if (!Array.isArray(vocab) || !vocab.every((c) => typeof c === "string")) throw new RnnError(`${what}: its metadata 'vocab' is not a list of characters; give --vocab FILE`);
  } else {
    throw new UsageError(`${what} has no vocabulary in its metadata: give --vocab FILE (the training text, or a .json list of its characters in the model's order)`);
  }
  const from = opts.vocab ? `--vocab ${one(opts.vocab)}` : `${what}'s vocab`;
  const bad = vocab.find((c) => [...c].length !== 1);
  if (bad !== undefined) throw new UsageError(`${from}: entry ${JSON.stringify(bad)} is not one character (code point); rnn's tokens are single code points`);
  if (new Set(vocab).size !== vocab.length) throw new UsageError(`${from} lists a character twice`);
  if (vocab.length !== m.vocabSize) {
    throw new RnnError(`${from} has ${vocab.length} characters but the model's decoder has ${m.vocabSize} rows: give the vocabulary the model was trained with`);
  }

  // tensors in rnn's order, the vocabulary sorted by code point (rows / columns permuted with it)
  const cp = (s: string) => s.codePointAt(0)!;
  const order = vocab.map((_, i) => i).sort((a, b) => cp(vocab[a]) - cp(vocab[b]));
  const permuted = order.some((o, i) => o !== i);
  const V = m.vocabSize;
  const spec = specOf(m);
  const out = spec.map(({ name, shape }) => {
    const srcName = inf.names.get(name)!;
    let data = tensors.get(srcName)!.data!;
    if (permuted) {
      const p = new Float32Array(data.length);
      if (name === "embedding.weight" || name === "decoder.weight") {
        const w = shape[1];
        for (let i = 0; i < V; i++) p.set(data.subarray(order[i] * w, order[i] * w + w), i * w);
        data = p;
      } else if (name === "decoder.bias") {
        for (let i = 0; i < V; i++) p[i] = data[order[i]];
        data = p;
      } else if (name === "rnn.weight_ih_l0" && m.embed === 0) {
        const rows = shape[0];
        for (let r = 0; r < rows; r++) for (let i = 0; i < V; i++) p[r * V + i] = data[r * V + order[i]];
        data = p;
      }
    }
    return { name, shape, data, from: srcName };
  });
  const sorted = order.map((i) => vocab[i]);

  // the run's config
  const absVocabText = opts.vocab && !/\.json$/i.test(opts.vocab) ? [path.resolve(opts.vocab)] : null;
  const threads = os.availableParallelism?.() ?? os.cpus().length;
  let config: TrainConfig;
  if (metaCfg) {
    config = { ...metaCfg, model: m, out: opts.out };
    if (absVocabText) config.corpus = absVocabText;
    if (opts.batch !== undefined) config.batch = opts.batch;
    if (opts.seq !== undefined) config.seq = opts.seq;
    if (opts.seed !== undefined) config.seed = opts.seed;
  } else {
    config = resolveTrainConfig(
      { model: m, corpus: absVocabText ?? [], batch: opts.batch, seq: opts.seq, seed: opts.seed },
      { threads, out: opts.out },
    );
  }
  for (const [flag, v] of [["--batch", config.batch], ["--seq", config.seq]] as const) {
    if (!(Number.isSafeInteger(v) && v >= 1)) throw new UsageError(`${flag} must be a whole number of at least 1, got ${v}`);
  }
  const stepMeta = Number(metadata.step);
  const step = metadata.format_version !== undefined && Number.isSafeInteger(stepMeta) && stepMeta >= 0 ? stepMeta : 0;

  // the run directory
  const dir = opts.out;
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new UsageError(`--out ${one(dir)} is a file, not a directory`);
    const existing = fs.readdirSync(dir).filter(isRunFile);
    if (existing.length && !opts.force) {
      throw new UsageError(`${one(dir)} already holds a run: choose another --out, or replace it with --force`);
    }
    for (const f of existing) fs.rmSync(path.join(dir, f), { force: true });
  }
  openRunDir(dir);
  const P = spec.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  const n = m.layers * config.batch * m.hidden;
  const latest = path.join(dir, LATEST), statePath = path.join(dir, STATE);
  // the files as a training run at this step writes them (checkpoint.ts's encoders, commitRun's order), with a
  // fresh optimizer and a zero carried state
  commitRun(dir, () => encodeModelFile(out.map(({ name, shape, data }) => ({ name, shape, data })), { config, vocab: sorted, step, bestValLoss: null }), {
    step, epoch: 0, chunk: 0, rng: makeRng(config.seed).getState(), optStep: 0, bestValLoss: null, evalsSinceBest: 0, lastValLoss: null,
    optimizer: new Float32Array(optimizerSpec(config, P).size), h: new Float32Array(n), c: cellOf(m).state.includes("c") ? new Float32Array(n) : null,
    config, // stored without its path, as every state is
  });
  return {
    out: dir, latest, state: statePath, model: m, description: describeModel(m), parameters: P, step,
    mapping: out.map(({ name, shape, from }) => ({ name, from, shape })), permuted, cellFromShapes: !metaCfg, config,
  };
}
