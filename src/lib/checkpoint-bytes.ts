// An rnn checkpoint from its bytes, with nothing from Node: the decoder the browser build uses (and the
// library's loadModel(bytes) everywhere). It reads the layout src/io/safetensors.ts writes and is as strict
// about it: 8-byte header length, a JSON header whose first metadata key is the checksum, F32 tensors that
// tile the data section exactly, format_version, and the SHA-256 of the whole file with the checksum's digits
// taken as '0' (./sha256.ts instead of node:crypto). Every failure is one line that names the file.
// test/api.test.ts checks that it accepts what src/io/safetensors.ts accepts and refuses what it refuses.
import type { CheckpointConfig } from "../checkpoint/checkpoint.ts";
import { RnnError } from "../errors.ts";
import type { Kernels } from "../kernels/types.ts";
import { setWeights } from "../model/weights.ts";
import { createModel, type Model } from "../model/model.ts";
import { Sha256 } from "./sha256.ts";

export { describeModel } from "../model/weights.ts";

/** The checkpoint layout version this reader understands (src/io/safetensors.ts FORMAT_VERSION). */
export const READS_FORMAT = 1;
const CHECKSUM_PREFIX = '{"__metadata__":{"checksum":"sha256:';
const CHECKSUM_AT = 8 + CHECKSUM_PREFIX.length;
const HEX = 64;

export interface CheckpointContents {
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  metadata: Record<string, string>;
}

/** What a checkpoint says about itself besides its weights. */
export interface CheckpointMeta {
  config: CheckpointConfig;
  vocab: string[];
  step: number;
  bestValLoss: number | null;
}

function fail(msg: string): never {
  throw new RnnError(msg.replace(/[\x00-\x1f\x7f]+/g, " "));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Parses and checks the bytes of an rnn checkpoint; `what` names it in errors. */
export function decodeCheckpoint(buf: Uint8Array, what: string): CheckpointContents {
  const L = buf.length;
  const cut = (need: number) => fail(`${what} is truncated (${L} bytes, needs ${need}): the file was cut short; use an earlier checkpoint`);
  if (L < 8) cut(8);
  const N64 = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
  if (N64 < 2n || N64 > 100_000_000n || (L > 8 && buf[8] !== 0x7b)) fail(`${what} is not an rnn checkpoint (safetensors): its first bytes are not a safetensors header`);
  const N = Number(N64);
  if (8 + N > L) cut(8 + N);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, 8 + N)));
  } catch {
    fail(`${what} is corrupt: its header is not valid UTF-8 JSON; use an earlier checkpoint`);
  }
  if (!isObject(header) || !isObject(header.__metadata__)) fail(`${what} is not an rnn checkpoint: its header has no metadata`);
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(header.__metadata__)) {
    if (typeof v !== "string" || k === "__proto__") fail(`${what} is corrupt: metadata ${JSON.stringify(k)} is not a string`);
    metadata[k] = v;
  }
  const version = metadata.format_version;
  if (version === undefined) fail(`${what} is not an rnn checkpoint: its metadata has no format_version`);
  if (!/^[1-9][0-9]{0,8}$/.test(version)) fail(`${what} is corrupt: format_version ${JSON.stringify(version)} is not a positive integer`);
  if (Number(version) > READS_FORMAT) fail(`${what} was written by a newer rnn (format ${version}, this one reads up to ${READS_FORMAT}); upgrade rnn`);

  const entries: { name: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, e] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const bad = (why: string): never => fail(`${what} is corrupt: tensor ${JSON.stringify(name)} ${why}; use an earlier checkpoint`);
    if (!isObject(e)) bad("is not a JSON object");
    const { dtype, shape, data_offsets: offs } = e as Record<string, unknown>;
    if (dtype !== "F32") fail(`${what}: tensor ${JSON.stringify(name)} has dtype ${JSON.stringify(dtype)}, but rnn reads only F32 checkpoints`);
    if (!Array.isArray(shape) || !shape.every(isCount)) bad("has a shape that is not a list of sizes");
    if (!Array.isArray(offs) || offs.length !== 2 || !isCount(offs[0]) || !isCount(offs[1]) || offs[0] > offs[1]) bad("has bad data_offsets");
    const [begin, end] = offs as number[];
    if ((shape as number[]).reduce((a, b) => a * b, 1) * 4 !== end - begin) bad("has a shape that does not match its data_offsets");
    entries.push({ name, shape: (shape as number[]).slice(), begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const t of entries) {
    if (t.begin !== pos) fail(`${what} is corrupt: tensor ${JSON.stringify(t.name)} ${t.begin < pos ? "overlaps the one before" : "leaves a gap before it"}; use an earlier checkpoint`);
    pos = t.end;
  }
  if (L < 8 + N + pos) cut(8 + N + pos);
  if (L > 8 + N + pos) fail(`${what} is corrupt: ${L - 8 - N - pos} unexpected bytes after the last tensor; use an earlier checkpoint`);

  const sum = metadata.checksum;
  if (sum === undefined) fail(`${what} is not an rnn checkpoint (safetensors): it has no checksum in its metadata`);
  const m = /^sha256:([0-9a-f]{64})$/.exec(sum);
  const raw = new TextDecoder("latin1").decode(buf.subarray(8, CHECKSUM_AT + HEX));
  if (!m || raw !== CHECKSUM_PREFIX + m[1]) fail(`${what} is corrupt: its checksum entry is not where or what rnn writes; use an earlier checkpoint`);
  const actual = new Sha256().update(buf.subarray(0, CHECKSUM_AT)).update(new Uint8Array(HEX).fill(0x30)).update(buf.subarray(CHECKSUM_AT + HEX)).hex();
  if (actual !== m[1]) fail(`${what} is corrupt: checksum mismatch (file says ${m[1].slice(0, 12)}…, contents hash to ${actual.slice(0, 12)}…); use an earlier checkpoint`);

  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const dv = new DataView(buf.buffer, buf.byteOffset, L);
  for (const t of entries) {
    const data = new Float32Array((t.end - t.begin) / 4);
    const at = 8 + N + t.begin;
    for (let i = 0; i < data.length; i++) data[i] = dv.getFloat32(at + 4 * i, true);
    tensors.set(t.name, { shape: t.shape, data });
  }
  return { tensors, metadata };
}

/** The checkpoint's config, vocabulary, step and best validation loss, checked to agree. */
export function checkpointMeta(c: CheckpointContents, what: string): CheckpointMeta {
  let config: CheckpointConfig, vocab: string[];
  try {
    config = JSON.parse(c.metadata.config);
    vocab = JSON.parse(c.metadata.vocab);
  } catch {
    fail(`${what} is not an rnn checkpoint: its metadata has no readable config and vocabulary`);
  }
  if (!config?.model || !Array.isArray(vocab) || vocab.length !== config.model.vocabSize) fail(`${what} is not an rnn checkpoint: config and vocabulary do not agree`);
  const bv = c.metadata.best_val_loss;
  return { config, vocab, step: Number(c.metadata.step ?? 0), bestValLoss: bv === undefined || bv === "null" ? null : Number(bv) };
}

/** The model of a decoded checkpoint on kernels `ops` (every tensor present with its shape). */
export function modelFromCheckpoint(c: CheckpointContents, what: string, ops: Kernels): { model: Model; meta: CheckpointMeta } {
  const meta = checkpointMeta(c, what);
  const model = createModel(meta.config.model, ops);
  setWeights(model, c.tensors, what.replace(/[\x00-\x1f\x7f]+/g, " ")); // as fail() cleans a message
  return { model, meta };
}

