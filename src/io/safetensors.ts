// Checkpoints are safetensors files, so PyTorch (or anything else) can read them without rnn:
//
//   [8 bytes]  N, little-endian u64: byte length of the header
//   [N bytes]  UTF-8 JSON header, padded with spaces to a multiple of 8 bytes:
//              {"__metadata__": {string: string},
//               "<tensor name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
//              offsets are relative to the start of the data section
//   [rest]     the data section: tensors back to back, little-endian float32, in the order written
//
// rnn always writes F32 and adds two metadata entries:
//   format_version  "1" (FORMAT_VERSION); a newer rnn that changes the meaning of a checkpoint bumps it
//   checksum        "sha256:<64 hex>" — SHA-256 of the WHOLE file (length, header, padding, data) with those 64
//                   hex digits replaced by '0'. It is always the first key of the header, so its digits sit at
//                   a fixed offset (CHECKSUM_AT). Covering the header too means a flipped byte in a tensor name,
//                   shape or metadata value is caught, not only a flipped data byte.
//
// Decoding is strict: every way a file can be cut short, mangled or foreign is one one-line RnnError that names
// the file and says what to do. Decoded tensors are fresh, aligned Float32Arrays (never views into the file).
import { createHash } from "node:crypto";
import { constants as bufferConstants } from "node:buffer";
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { RnnError } from "../errors.ts";
import { describeFsError } from "./atomic.ts";
import { describeKind, formatBytes } from "./paths.ts";

/** Version of the checkpoint layout this rnn writes and the newest it reads. */
export const FORMAT_VERSION = 1;

export interface TensorIn {
  name: string;
  shape: number[];
  data: Float32Array | Float64Array;
}

export interface TensorOut {
  shape: number[];
  data: Float32Array;
}

export interface Decoded {
  /** tensors in data-section order (the order they were written) */
  tensors: Map<string, TensorOut>;
  metadata: Record<string, string>;
}

export interface DecodeOptions {
  /**
   * true (default): the file must be an rnn checkpoint — format_version and checksum present and valid.
   * false: any F32 safetensors file (e.g. written by the `safetensors` Python package); a checksum or
   * format_version that is present is still checked.
   */
  strict?: boolean;
}

const CHECKSUM_PREFIX = '{"__metadata__":{"checksum":"sha256:';
/** byte offset of the checksum's hex digits in the file */
const CHECKSUM_AT = 8 + CHECKSUM_PREFIX.length;
const HEX_LEN = 64;
const ZERO_HEX = "0".repeat(HEX_LEN);
/** the safetensors reference implementation refuses headers above 100 MB; so do we */
const MAX_HEADER = 100_000_000;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const EARLIER = "use an earlier checkpoint";

/** One-line RnnError: control characters (from file names or mangled headers) never reach the terminal raw. */
function fail(msg: string): never {
  throw new RnnError(msg.replace(/[\x00-\x1f\x7f]+/g, " "));
}

function show(s: string): string {
  const j = JSON.stringify(s);
  return j.length > 80 ? j.slice(0, 77) + '..."' : j;
}

/** SHA-256 of `file` with the bytes at [CHECKSUM_AT, CHECKSUM_AT + 64) taken as '0' digits. */
function fileChecksum(file: Uint8Array): string {
  const h = createHash("sha256");
  h.update(file.subarray(0, CHECKSUM_AT));
  h.update(ZERO_HEX, "latin1");
  h.update(file.subarray(CHECKSUM_AT + HEX_LEN));
  return h.digest("hex");
}

/** Serialize tensors (always as F32, in the order given) with metadata + format_version + checksum. */
export function encodeSafetensors(tensors: TensorIn[], metadata: Record<string, string>): Buffer {
  const meta: Record<string, string> = { checksum: "sha256:" + ZERO_HEX };
  if (!("format_version" in metadata)) meta.format_version = String(FORMAT_VERSION);
  for (const [k, v] of Object.entries(metadata)) {
    if (k === "checksum") continue; // always ours
    if (k === "__proto__") throw new Error(`encodeSafetensors: metadata key "__proto__" is not allowed`);
    if (typeof v !== "string") throw new Error(`encodeSafetensors: metadata ${show(k)} must be a string`);
    meta[k] = v;
  }
  const header: Record<string, unknown> = { __metadata__: meta };
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (t.name === "" || t.name === "__metadata__" || t.name === "__proto__" || seen.has(t.name)) {
      throw new Error(`encodeSafetensors: bad or duplicate tensor name ${show(t.name)}`);
    }
    seen.add(t.name);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || size !== t.data.length) {
      throw new Error(`encodeSafetensors: ${show(t.name)} has shape [${t.shape}] but ${t.data.length} values`);
    }
    header[t.name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * size] };
    offset += 4 * size;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json, "utf8") % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const N = headerBytes.length;
  const out = Buffer.alloc(8 + N + offset);
  out.writeBigUInt64LE(BigInt(N), 0);
  headerBytes.copy(out, 8);
  let at = 8 + N;
  for (const t of tensors) {
    writeF32LE(out, at, t.data);
    at += 4 * t.data.length;
  }
  out.write(fileChecksum(out), CHECKSUM_AT, HEX_LEN, "latin1");
  return out;
}

function writeF32LE(out: Buffer, at: number, src: Float32Array | Float64Array): void {
  if (LITTLE_ENDIAN_HOST && (out.byteOffset + at) % 4 === 0) {
    new Float32Array(out.buffer, out.byteOffset + at, src.length).set(src); // f64 → f32 rounds to nearest
    return;
  }
  const dv = new DataView(out.buffer, out.byteOffset + at, 4 * src.length);
  for (let i = 0; i < src.length; i++) dv.setFloat32(4 * i, src[i], true);
}

function readF32LE(buf: Uint8Array, at: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(out.buffer).set(buf.subarray(at, at + 4 * n));
  } else {
    const dv = new DataView(buf.buffer, buf.byteOffset + at, 4 * n);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** The header length N from a file's first 8 bytes (buf.length ≥ 8); throws unless they start a safetensors header. */
function decodeLead(buf: Uint8Array, what: string): number {
  const N64 = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
  if (N64 < 2n || N64 > BigInt(MAX_HEADER) || (buf.length > 8 && buf[8] !== 0x7b /* { */)) {
    fail(`${what} is not an rnn checkpoint (safetensors): its first bytes are not a safetensors header; check the path`);
  }
  return Number(N64);
}

/** Parse and fully validate a safetensors buffer. `what` names the file in error messages. */
export function decodeSafetensors(buf: Uint8Array, what: string, opts: DecodeOptions = {}): Decoded {
  const strict = opts.strict ?? true;
  const L = buf.length;
  if (L < 8) fail(`${what} is truncated (${L} bytes, a checkpoint has at least 8): the file was cut short; ${EARLIER}`);
  const N = decodeLead(buf, what);
  if (8 + N > L) {
    fail(`${what} is truncated (${L} bytes, header says at least ${8 + N}): the file was cut short; ${EARLIER}`);
  }

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, 8 + N));
  } catch {
    fail(`${what} is corrupt: its header is not valid UTF-8; ${EARLIER}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    fail(`${what} is corrupt: its header is not valid JSON (${(err as Error).message}); ${EARLIER}`);
  }
  if (!isPlainObject(header)) fail(`${what} is corrupt: its header is not a JSON object; ${EARLIER}`);

  // metadata first: a newer format may lay out tensors differently, so say "upgrade" before anything else
  const metadata: Record<string, string> = {};
  const rawMeta = header.__metadata__;
  if (rawMeta !== undefined) {
    if (!isPlainObject(rawMeta)) fail(`${what} is corrupt: __metadata__ is not an object; ${EARLIER}`);
    for (const [k, v] of Object.entries(rawMeta)) {
      if (typeof v !== "string" || k === "__proto__") {
        fail(`${what} is corrupt: metadata ${show(k)} is not a string entry; ${EARLIER}`);
      }
      metadata[k] = v;
    }
  }
  if (strict || metadata.format_version !== undefined) checkFormatVersion(metadata, what);

  // tensor entries: types, dtype, shapes, offsets
  const entries: { name: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, e] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const bad = (why: string): never => fail(`${what} is corrupt: tensor ${show(name)} ${why}; ${EARLIER}`);
    if (!isPlainObject(e)) bad("is not a JSON object");
    const { dtype, shape, data_offsets: offs } = e as Record<string, unknown>;
    if (typeof dtype !== "string") bad("has no dtype");
    if (dtype !== "F32") {
      fail(
        `${what}: tensor ${show(name)} has dtype ${show(dtype as string)}, but rnn reads only F32 ` +
          `(float32) checkpoints; convert with tensor.float() before saving`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) bad("has a shape that is not a list of sizes");
    if (!Array.isArray(offs) || offs.length !== 2 || !isCount(offs[0]) || !isCount(offs[1])) {
      bad("has data_offsets that are not [begin, end]");
    }
    const [begin, end] = offs as number[];
    if (begin > end) bad(`has data_offsets [${begin}, ${end}] that run backwards`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (count * 4 !== end - begin) {
      bad(`has shape [${shape}] (${count} values = ${count * 4} bytes) but data_offsets span ${end - begin} bytes`);
    }
    entries.push({ name, shape: (shape as number[]).slice(), begin, end });
  }

  // the data section: tensors must tile it exactly, no gaps, no overlaps
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const t of entries) {
    if (t.begin !== pos) {
      const why = t.begin < pos ? "overlaps the previous tensor" : `leaves a gap of ${t.begin - pos} bytes before it`;
      fail(`${what} is corrupt: tensor ${show(t.name)} ${why} (data_offsets [${t.begin}, ${t.end}]); ${EARLIER}`);
    }
    pos = t.end;
  }
  const total = 8 + N + pos;
  if (L < total) fail(`${what} is truncated (${L} bytes, header says ${total}): the file was cut short; ${EARLIER}`);
  if (L > total) fail(`${what} is corrupt: ${L - total} unexpected bytes after the last tensor; ${EARLIER}`);

  // checksum over the whole file
  const sum = metadata.checksum;
  if (sum === undefined) {
    if (strict) fail(`${what} is not an rnn checkpoint (safetensors): it has no checksum in its metadata`);
  } else {
    const raw = Buffer.from(buf.buffer, buf.byteOffset, L).toString("latin1", 8, CHECKSUM_AT + HEX_LEN);
    const m = /^sha256:([0-9a-f]{64})$/.exec(sum);
    if (!m || raw !== CHECKSUM_PREFIX + m[1]) {
      fail(`${what} is corrupt: checksum entry ${show(sum)} is not where or what rnn writes; ${EARLIER}`);
    }
    const actual = fileChecksum(buf);
    if (actual !== m[1]) {
      fail(
        `${what} is corrupt: checksum mismatch (file says ${m[1].slice(0, 12)}…, contents hash to ` +
          `${actual.slice(0, 12)}…); ${EARLIER}`,
      );
    }
  }

  const tensors = new Map<string, TensorOut>();
  for (const t of entries) {
    tensors.set(t.name, { shape: t.shape, data: readF32LE(buf, 8 + N + t.begin, (t.end - t.begin) / 4) });
  }
  return { tensors, metadata };
}

/** Throw unless `metadata.format_version` names a format this rnn can read. */
export function checkFormatVersion(metadata: Record<string, string>, what: string): void {
  const v = metadata.format_version;
  if (v === undefined) {
    fail(`${what} is not an rnn checkpoint: its metadata has no format_version`);
  }
  if (!/^[1-9][0-9]{0,8}$/.test(v)) {
    fail(`${what} is corrupt: format_version ${show(v)} is not a positive integer; ${EARLIER}`);
  }
  const n = Number(v);
  if (n > FORMAT_VERSION) {
    fail(`${what} was written by a newer rnn (format ${n}, this rnn reads up to ${FORMAT_VERSION}); upgrade rnn`);
  }
}

/**
 * The largest checkpoint file rnn reads: 8 GiB, or less where the runtime's largest buffer is smaller (4 GiB in
 * Node 20). A larger file is refused before anything is read.
 */
export const MAX_CHECKPOINT_BYTES = Math.min(8 * 2 ** 30, bufferConstants.MAX_LENGTH);

/**
 * Read and decode an rnn checkpoint file (strict: format_version and checksum required). Only a regular file is
 * read: the path is opened non-blocking and checked on the open descriptor, so a FIFO, /dev/zero or another
 * device is refused at once instead of blocking or reading forever. A file above MAX_CHECKPOINT_BYTES, or one
 * whose first bytes are not a safetensors header, is refused before the rest of it is read.
 */
export function readCheckpointFile(path: string, opts: DecodeOptions = {}): Decoded {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") fail(`no checkpoint at ${path}: no such file; check the path`);
    if (code === "ELOOP") fail(`cannot read checkpoint ${path}: it is a symbolic link loop (its links never reach a file); fix the link or give the real path`);
    fail(`cannot read checkpoint ${path}: ${describeFsError(err)}`);
  }
  let buf: Buffer;
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) fail(`cannot read checkpoint ${path}: it is a directory`);
    if (!st.isFile()) fail(`cannot read checkpoint ${path}: it is ${describeKind(st)}, not a regular file; give a .safetensors checkpoint`);
    if (st.size > MAX_CHECKPOINT_BYTES) {
      fail(`${path} is ${formatBytes(st.size)}, larger than any checkpoint rnn reads (${formatBytes(MAX_CHECKPOINT_BYTES)}); check the path`);
    }
    // a big file that does not even start like a checkpoint: say so without reading gigabytes
    if (st.size > 1 << 20) {
      const lead = readAt(fd, path, 9);
      if (lead.length === 9) decodeLead(lead, path);
    }
    buf = readAt(fd, path, st.size);
  } finally {
    closeSync(fd);
  }
  return decodeSafetensors(buf, path, opts);
}

/** Reads up to n bytes from offset 0 (fewer when the file shrank meanwhile). */
function readAt(fd: number, path: string, n: number): Buffer {
  const buf = Buffer.allocUnsafe(n);
  let got = 0;
  while (got < n) {
    let k: number;
    try {
      k = readSync(fd, buf, got, n - got, got);
    } catch (err) {
      fail(`cannot read checkpoint ${path}: ${describeFsError(err)}`);
    }
    if (k === 0) break;
    got += k;
  }
  return got === n ? buf : buf.subarray(0, got);
}

/**
 * The metadata of a safetensors file from its header alone (the tensors are not read, the checksum not
 * checked: a loader that reads the file whole checks it). null when the file cannot be read or its header is
 * not a safetensors header with string metadata. Only a regular file is read (non-blocking open, checked on the
 * descriptor).
 */
export function readHeaderMetadata(path: string): Record<string, string> | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch {
    return null;
  }
  try {
    if (!fstatSync(fd).isFile()) return null;
    const lead = Buffer.alloc(8);
    if (readSync(fd, lead, 0, 8, 0) !== 8) return null;
    const N64 = lead.readBigUInt64LE(0);
    if (N64 < 2n || N64 > BigInt(MAX_HEADER)) return null;
    const N = Number(N64);
    const head = Buffer.allocUnsafe(N);
    let got = 0;
    while (got < N) {
      const k = readSync(fd, head, got, N - got, 8 + got);
      if (k === 0) return null;
      got += k;
    }
    const header = JSON.parse(head.toString("utf8")) as unknown;
    if (!isPlainObject(header) || !isPlainObject(header.__metadata__)) return null;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(header.__metadata__)) {
      if (typeof v !== "string" || k === "__proto__") return null;
      out[k] = v;
    }
    return out;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
