// A fingerprint of the training text, stored with a run so that --resume notices a corpus that was edited,
// cut or replaced (with the same vocabulary, nothing else would): resuming on different text would train on it
// silently and compare its validation loss with a best measured on the old text.
//
// It is made from the raw bytes of the corpus files, in order: per file its size in bytes and the SHA-256 of
// its bytes; overall the total bytes, the SHA-256 over the per-file digests, and (when the caller knows it, from
// the corpus read) the number of characters. Paths are not part of it: the same text under another name or in
// another directory is the same training text, and identical runs in different places stay byte-identical.
//
// Memory is one read buffer; a 200 MB corpus hashes in about a second. FingerprintBuilder takes bytes as they
// are read, for a reader that wants the fingerprint without a second pass over the files.
import { createHash, type Hash } from "node:crypto";
import fs from "node:fs";
import { RnnError } from "../errors.ts";
import { describeFsError } from "../io/atomic.ts";

export const FINGERPRINT_VERSION = 1;

export interface FileFingerprint {
  bytes: number;
  /** hex SHA-256 of the file's bytes */
  sha256: string;
}

export interface CorpusFingerprint {
  version: number;
  files: FileFingerprint[];
  /** total bytes of all files */
  bytes: number;
  /** hex SHA-256 over the files' digests, in order */
  sha256: string;
  /** code points of the concatenated text (BOMs removed), when known */
  chars?: number;
}

/** Builds a fingerprint from bytes fed file by file, in order. */
export class FingerprintBuilder {
  private files: FileFingerprint[] = [];
  private hash: Hash | null = null;
  private bytes = 0;

  /** Starts the next file. */
  beginFile(): void {
    this.endFile();
    this.hash = createHash("sha256");
    this.bytes = 0;
  }

  update(chunk: Uint8Array): void {
    if (!this.hash) this.beginFile();
    this.hash!.update(chunk);
    this.bytes += chunk.length;
  }

  private endFile(): void {
    if (!this.hash) return;
    this.files.push({ bytes: this.bytes, sha256: this.hash.digest("hex") });
    this.hash = null;
  }

  finish(chars?: number): CorpusFingerprint {
    this.endFile();
    const all = createHash("sha256");
    for (const f of this.files) all.update(`${f.bytes}:${f.sha256}\n`);
    const fp: CorpusFingerprint = {
      version: FINGERPRINT_VERSION,
      files: this.files,
      bytes: this.files.reduce((a, f) => a + f.bytes, 0),
      sha256: all.digest("hex"),
    };
    if (chars !== undefined) fp.chars = chars;
    return fp;
  }
}

/**
 * Fingerprint of the files at `paths`, read in order (1 MiB at a time). `chars`: the character count, when the
 * caller has read the corpus. Throws a one-line RnnError when a file cannot be read.
 */
export function fingerprintFiles(paths: string[], chars?: number): CorpusFingerprint {
  const b = new FingerprintBuilder();
  const buf = Buffer.allocUnsafe(1 << 20);
  for (const p of paths) {
    b.beginFile();
    let fd: number;
    try {
      fd = fs.openSync(p, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
    } catch (err) {
      throw new RnnError(`cannot read corpus file '${p}' to fingerprint it: ${describeFsError(err)}; check the path`);
    }
    try {
      if (!fs.fstatSync(fd).isFile()) throw new RnnError(`corpus '${p}' is not a regular file: pass a UTF-8 text file`);
      for (;;) {
        let n: number;
        try {
          n = fs.readSync(fd, buf, 0, buf.length, null);
        } catch (err) {
          throw new RnnError(`cannot read corpus file '${p}': ${describeFsError(err)}`);
        }
        if (n === 0) break;
        b.update(buf.subarray(0, n));
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return b.finish(chars);
}

/** True when two fingerprints describe the same text (the character count is compared when both have one). */
export function sameText(a: CorpusFingerprint, b: CorpusFingerprint): boolean {
  return a.sha256 === b.sha256 && a.bytes === b.bytes && (a.chars === undefined || b.chars === undefined || a.chars === b.chars);
}

const num = (n: number) => n.toLocaleString("en-US");

function percent(from: number, to: number): string {
  if (from === 0) return "";
  const p = ((to - from) / from) * 100;
  const r = Math.abs(p) >= 10 ? Math.round(p) : Math.round(p * 10) / 10;
  return ` (${r > 0 ? "+" : ""}${r}%)`;
}

export interface DescribeOptions {
  /** the corpus paths now, to name a changed file (else "file 2 of 3") */
  paths?: string[];
  /** the run directory, for the suggested command */
  run?: string;
}

/**
 * null when `now` is the same text as `old`; otherwise one line saying what changed (which file, its size, or
 * same size but different content; the character count) and that --init-from starts a new run from the old
 * run's weights on new text.
 */
export function describeChange(old: CorpusFingerprint, now: CorpusFingerprint, opts: DescribeOptions = {}): string | null {
  if (sameText(old, now)) return null;
  const name = (i: number, n: number) =>
    opts.paths?.[i] !== undefined ? `'${opts.paths[i]}'` : n > 1 ? `file ${i + 1} of ${n}` : "file";
  const parts: string[] = [];
  if (old.files.length !== now.files.length) {
    parts.push(`it was ${old.files.length} file${old.files.length === 1 ? "" : "s"} (${num(old.bytes)} bytes), now ${now.files.length} (${num(now.bytes)} bytes)`);
  } else {
    const changed = now.files.map((f, i) => i).filter((i) => now.files[i].sha256 !== old.files[i].sha256 || now.files[i].bytes !== old.files[i].bytes);
    if (changed.length > 0) {
      const i = changed[0], o = old.files[i], f = now.files[i];
      const what = `corpus ${name(i, now.files.length)}`;
      parts.push(
        o.bytes !== f.bytes
          ? `${what} was ${num(o.bytes)} bytes, now ${num(f.bytes)}${percent(o.bytes, f.bytes)}`
          : `${what} has the same size (${num(f.bytes)} bytes) but different content`,
      );
      if (changed.length > 1) parts.push(`${changed.length - 1} more file${changed.length > 2 ? "s" : ""} changed too`);
    }
  }
  if (old.chars !== undefined && now.chars !== undefined && old.chars !== now.chars) {
    parts.push(`${num(old.chars)} characters then, ${num(now.chars)} now`);
  }
  if (parts.length === 0) parts.push("its content differs"); // same files and sizes, different overall digest: not reachable from fingerprintFiles
  const run = opts.run ?? "RUN";
  return (
    `the training text has changed since this run was made: ${parts.join("; ")}. --resume continues only on the same text; ` +
    `to train on the new text, start a new run from this one's weights: rnn train FILE... --init-from ${run}`
  );
}

/** The fingerprint as stored in run metadata (JSON). */
export function encodeFingerprint(fp: CorpusFingerprint): string {
  return JSON.stringify(fp);
}

/** Parses a stored fingerprint; null when it is missing or not one this rnn can read (a run made before them). */
export function parseFingerprint(text: string | undefined): CorpusFingerprint | null {
  if (text === undefined) return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const o = v as Partial<CorpusFingerprint> | null;
  const hex = (s: unknown) => typeof s === "string" && /^[0-9a-f]{64}$/.test(s);
  const count = (n: unknown) => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
  if (!o || typeof o !== "object" || o.version !== FINGERPRINT_VERSION || !Array.isArray(o.files)) return null;
  if (!hex(o.sha256) || !count(o.bytes) || (o.chars !== undefined && !count(o.chars))) return null;
  if (!o.files.every((f) => f && typeof f === "object" && hex(f.sha256) && count(f.bytes))) return null;
  const fp: CorpusFingerprint = {
    version: o.version,
    files: o.files.map((f) => ({ bytes: f.bytes, sha256: f.sha256 })),
    bytes: o.bytes!,
    sha256: o.sha256!,
  };
  if (o.chars !== undefined) fp.chars = o.chars;
  return fp;
}
