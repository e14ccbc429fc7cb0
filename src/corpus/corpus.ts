// Corpus loading: UTF-8 text file(s) → vocabulary of code points + one id per code point.
//
// Streaming, two passes, never a JS string of the whole corpus: pass 1 validates UTF-8 and collects the set
// of code points (and their count), pass 2 decodes again straight into the preallocated id array. Peak
// memory is the id array (2 or 4 bytes per character) plus one read buffer (8 MiB), a code-point buffer for
// one read (32 MiB) and a 1.1 MB seen-table: a 200 MB text file peaks near 2.6× its size (measured 519 MB).
//
// A vocabulary entry is one code point (an emoji or any astral character is ONE token). Token = code point;
// combining sequences (e + ◌́) stay two tokens, as in the file.
import fs from "node:fs";
import { RnnError, UsageError } from "../errors.ts";
import { describeKind } from "../io/paths.ts";
import { type CorpusFingerprint, FingerprintBuilder } from "./fingerprint.ts";

export interface Corpus {
  /** [V] one-code-point strings, sorted by code point */
  vocab: string[];
  /** one id per code point of the concatenated files: Uint16Array when V ≤ 65536, else Uint32Array */
  ids: Uint16Array | Uint32Array;
  paths: string[];
  /** total bytes read (all files, BOMs included) */
  bytes: number;
  /** characters (code points) of the whole text; ids.length unless opts.tail kept only its end */
  chars: number;
  /** the fingerprint of the text read (src/corpus/fingerprint.ts), when opts.fingerprint asked for it */
  fingerprint?: CorpusFingerprint;
}

export interface ReadCorpusOptions {
  /** read size per readSync; default 8 MiB (tests use tiny values to split UTF-8 sequences across reads) */
  chunkBytes?: number;
  /**
   * Keep only the ids of the last tail(chars) characters (chars: the whole text's count, known after the first
   * pass), e.g. a validation split: memory for the ids is then that of the tail alone. The vocabulary is still
   * that of the whole text. Default: keep every id.
   */
  tail?: (chars: number) => number;
  /** also fingerprint the bytes as the second pass reads them (the ids are made from those very bytes) */
  fingerprint?: boolean;
}

const MAX_CP = 0x110000;
const DEFAULT_CHUNK = 8 << 20;

/**
 * Reads and concatenates the files in order (no separator), stripping a UTF-8 BOM at the start of each.
 * onProgress(bytesDone, bytesTotal) is called after every read; both passes count, so bytesTotal is twice the
 * corpus size and bytesDone / bytesTotal is the overall fraction.
 * Throws UsageError for an empty path list, RnnError (one line: the problem and the fix) for anything wrong
 * with a file: not found, a directory, unreadable, empty, binary (NUL byte), invalid UTF-8.
 */
export function readCorpus(
  paths: string[],
  onProgress?: (bytesDone: number, bytesTotal: number) => void,
  opts: ReadCorpusOptions = {},
): Corpus {
  if (paths.length === 0) throw new UsageError("no corpus given: pass one or more UTF-8 text files: rnn train input.txt");
  const chunkBytes = Math.max(1, Math.floor(opts.chunkBytes ?? DEFAULT_CHUNK));

  // Check every file before the long read, so a typo in the 3rd path fails at once.
  const sizes = paths.map((p) => statFile(p));
  const bytes = sizes.reduce((a, b) => a + b, 0);
  const total = 2 * bytes;
  let done = 0;
  const progress = (n: number) => {
    done += n;
    onProgress?.(done, total);
  };

  const buf = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(1, bytes))); // [chunk] bytes
  const cps = new Uint32Array(buf.length); // [≤ chunk] code points decoded from one read

  // Pass 1: validate, collect the code point set, count characters.
  const seen = new Uint8Array(MAX_CP); // [0x110000] 1 = occurs
  const distinct: number[] = []; // code points in order of first appearance
  const perFile: number[] = [];
  for (let f = 0; f < paths.length; f++) {
    let count = 0;
    streamFile(paths[f], buf, cps, progress, (n) => {
      for (let i = 0; i < n; i++) {
        const c = cps[i];
        if (!seen[c]) {
          seen[c] = 1;
          distinct.push(c);
        }
      }
      count += n;
    });
    if (count === 0) throw new RnnError(`corpus file '${paths[f]}' is empty${sizes[f] > 0 ? " (only a byte-order mark)" : ""}: give a file with some text`);
    perFile.push(count);
  }

  // Vocabulary: distinct code points in code point order; idOf maps code point → id.
  distinct.sort((a, b) => a - b);
  const idOf = new Uint32Array(distinct[distinct.length - 1] + 1); // [max code point + 1]
  const vocab = distinct.map((c, id) => {
    idOf[c] = id;
    return String.fromCodePoint(c);
  });
  const n = perFile.reduce((a, b) => a + b, 0);
  // the ids kept: text positions [from, n)
  const from = opts.tail ? n - Math.max(0, Math.min(n, Math.floor(opts.tail(n)))) : 0;
  const kept = n - from;
  // [kept] token ids, on a SharedArrayBuffer: training worker threads read their streams in place (no copies)
  const ids = vocab.length <= 65536 ? new Uint16Array(new SharedArrayBuffer(2 * kept)) : new Uint32Array(new SharedArrayBuffer(4 * kept));

  // Pass 2: decode again into ids.
  const fp = opts.fingerprint ? new FingerprintBuilder() : null;
  let at = 0;
  for (let f = 0; f < paths.length; f++) {
    const start = at;
    fp?.beginFile();
    streamFile(paths[f], buf, cps, fp ? (n) => { fp.update(buf.subarray(0, n)); progress(n); } : progress, (k) => {
      if (at + k > start + perFile[f]) changed(paths[f]);
      if (from === 0) {
        for (let i = 0; i < k; i++) {
          const c = cps[i];
          if (!seen[c]) changed(paths[f]);
          ids[at + i] = idOf[c];
        }
      } else {
        for (let i = 0; i < k; i++) if (!seen[cps[i]]) changed(paths[f]);
        // ids[j] is the id of text position from + j
        for (let i = Math.max(0, from - at); i < k; i++) ids[at + i - from] = idOf[cps[i]];
      }
      at += k;
    });
    if (at !== start + perFile[f]) changed(paths[f]);
  }
  const corpus: Corpus = { vocab, ids, paths: [...paths], bytes, chars: n };
  if (fp) corpus.fingerprint = fp.finish(n);
  return corpus;
}

export { decodeIds, encodeText, vocabIndex } from "./vocab.ts";

// ---- file access ----------------------------------------------------------------------------------------

function statFile(path: string): number {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    throw fileError(path, e);
  }
  if (st.isDirectory()) throw new RnnError(`corpus '${path}' is a directory: pass the text file(s) inside it instead`);
  if (!st.isFile()) throw new RnnError(`corpus '${path}' is ${describeKind(st)}, not a regular file: pass a UTF-8 text file`);
  if (st.size === 0) {
    // /proc/cpuinfo and the like say size 0 yet have contents, generated anew on every read
    if (hasBytes(path)) {
      throw new RnnError(`corpus file '${path}' reports size 0 but has contents (a /proc or /sys pseudo-file?), which may change between reads: copy it to a regular file first (cat '${path}' > corpus.txt)`);
    }
    throw new RnnError(`corpus file '${path}' is empty: give a file with some text`);
  }
  return st.size;
}

/** true when at least one byte can be read from path (which stat says is a regular file of size 0). */
function hasBytes(path: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch {
    return false;
  }
  try {
    return fs.readSync(fd, Buffer.alloc(1), 0, 1, null) > 0;
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

/** One-line RnnError for a failed stat/open/read. */
export function fileError(path: string, e: unknown): RnnError {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case "ENOENT":
      return new RnnError(`corpus file '${path}' not found: check the path`);
    case "ENOTDIR":
      return new RnnError(`corpus file '${path}' not found: a part of the path is not a directory`);
    case "EACCES":
    case "EPERM":
      return new RnnError(`cannot read corpus file '${path}': permission denied (fix its permissions, e.g. chmod u+r)`);
    case "EISDIR":
      return new RnnError(`corpus '${path}' is a directory: pass the text file(s) inside it instead`);
    case "ELOOP":
      return new RnnError(`corpus file '${path}' is a symbolic link loop (following its links never reaches a file): fix or remove the link, or give the real path`);
    default:
      return new RnnError(`cannot read corpus file '${path}': ${(e as Error)?.message ?? String(e)}`);
  }
}

function changed(path: string): never {
  throw new RnnError(`corpus file '${path}' changed while it was being read: run again once nothing is writing to it`);
}

/** Reads one file in chunks through the UTF-8 decoder; onChars(n) gets cps[0..n) after every read. */
function streamFile(
  path: string,
  buf: Buffer,
  cps: Uint32Array,
  progress: (n: number) => void,
  onChars: (n: number) => void,
): void {
  let fd: number;
  try {
    // non-blocking: a path swapped for a FIFO after statFile cannot block the open (checked just below)
    fd = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw fileError(path, e);
  }
  try {
    const kind = fs.fstatSync(fd);
    if (!kind.isFile()) throw new RnnError(`corpus '${path}' is ${describeKind(kind)}, not a regular file: pass a UTF-8 text file`);
    const st = newDecoder();
    for (;;) {
      let got: number;
      try {
        got = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        throw fileError(path, e);
      }
      if (got === 0) break;
      const n = decodeUtf8(cps, buf, got, st);
      if (n < 0) throw badUtf8(path, st, buf, got);
      progress(got);
      onChars(n);
    }
    if (st.need > 0) {
      st.bad = st.seqStart;
      st.why = `the file ends inside a truncated ${st.need + st.have + 1}-byte sequence`;
      throw badUtf8(path, st, buf, 0);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function badUtf8(path: string, st: Decoder, buf: Buffer, got: number): RnnError {
  if (st.why === "NUL") {
    return new RnnError(`corpus file '${path}' looks binary: it contains a NUL byte at byte offset ${st.bad}; pass a UTF-8 text file`);
  }
  // A binary file usually fails UTF-8 before its first NUL; if a NUL follows in this read, call it binary.
  const nul = got > 0 ? buf.subarray(0, got).indexOf(0) : -1;
  if (nul >= 0) {
    const off = st.offset + nul; // st.offset is still the offset of this read's first byte
    return new RnnError(`corpus file '${path}' looks binary: it contains a NUL byte at byte offset ${off}; pass a UTF-8 text file`);
  }
  return new RnnError(
    `corpus file '${path}' is not valid UTF-8: ${st.why} at byte offset ${st.bad}; ` +
      `convert it to UTF-8 (e.g. iconv -f latin1 -t utf-8 '${path}' > fixed.txt)`,
  );
}

// ---- strict UTF-8 decoder (Unicode Table 3-7), state carried across reads ------------------------------

interface Decoder {
  /** continuation bytes still expected for the current sequence */
  need: number;
  /** continuation bytes already seen */
  have: number;
  /** code point so far */
  cp: number;
  /** allowed range of the next continuation byte (narrowed after E0, ED, F0, F4) */
  lo: number;
  hi: number;
  /** file byte offset of the current sequence's lead byte */
  seqStart: number;
  /** file byte offset of the next byte to decode */
  offset: number;
  /** error: offset of the bad sequence and what is wrong with it ("NUL" = a NUL byte) */
  bad: number;
  why: string;
}

function newDecoder(): Decoder {
  return { need: 0, have: 0, cp: 0, lo: 0x80, hi: 0xbf, seqStart: 0, offset: 0, bad: -1, why: "" };
}

const hex = (b: number) => "0x" + b.toString(16).toUpperCase().padStart(2, "0");

/**
 * Decodes buf[0..len) into code points (cps, written from 0), continuing a sequence left open by the previous
 * call. Returns the count, or -1 with st.bad / st.why set. A BOM (U+FEFF at file offset 0) is dropped.
 * Rejects overlong forms, UTF-16 surrogates (ED A0..BF), code points above U+10FFFF, stray continuation
 * bytes, bytes C0, C1, F5..FF, and NUL (a text corpus never contains one).
 */
function decodeUtf8(cps: Uint32Array, buf: Uint8Array, len: number, st: Decoder): number {
  let n = 0;
  let { need, have, cp, lo, hi, seqStart } = st;
  const base = st.offset;
  for (let i = 0; i < len; i++) {
    const b = buf[i];
    if (need === 0) {
      if (b < 0x80) {
        if (b === 0) return fail(st, base + i, "NUL");
        cps[n++] = b;
        continue;
      }
      seqStart = base + i;
      have = 0;
      lo = 0x80;
      hi = 0xbf;
      if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        cp = b & 0x0f;
        if (b === 0xe0) lo = 0xa0; // overlong below U+0800
        else if (b === 0xed) hi = 0x9f; // surrogates U+D800..DFFF
      } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        cp = b & 0x07;
        if (b === 0xf0) lo = 0x90; // overlong below U+10000
        else if (b === 0xf4) hi = 0x8f; // above U+10FFFF
      } else if (b >= 0x80 && b <= 0xbf) {
        return fail(st, base + i, `unexpected continuation byte ${hex(b)}`);
      } else if (b === 0xc0 || b === 0xc1) {
        return fail(st, base + i, `overlong encoding (byte ${hex(b)})`);
      } else {
        return fail(st, base + i, `byte ${hex(b)} never appears in UTF-8`);
      }
    } else {
      if (b < lo || b > hi) {
        let why: string;
        if (b < 0x80 || b > 0xbf) why = `incomplete multi-byte sequence (byte ${hex(b)} where a continuation byte was expected)`;
        else if (cp === 0x0d && have === 0 && hi === 0x9f) why = "UTF-16 surrogate encoded in UTF-8";
        else if (lo > 0x80 && have === 0) why = "overlong encoding";
        else why = "code point above U+10FFFF";
        return fail(st, seqStart, why);
      }
      cp = (cp << 6) | (b & 0x3f);
      have++;
      lo = 0x80;
      hi = 0xbf;
      if (--need === 0) {
        if (!(cp === 0xfeff && seqStart === 0)) cps[n++] = cp;
      }
    }
  }
  st.need = need;
  st.have = have;
  st.cp = cp;
  st.lo = lo;
  st.hi = hi;
  st.seqStart = seqStart;
  st.offset = base + len;
  return n;
}

function fail(st: Decoder, at: number, why: string): number {
  st.bad = at;
  st.why = why;
  return -1;
}
