// Writes the long-range corpus (see experiments/longrange/corpus.ts for what it contains and what it tests).
//   npx tsx experiments/longrange/make_corpus.ts [--out data/longrange.txt] [--bytes 1000000] [--seed N]
// Deterministic: the same flags always give the same bytes.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_BYTES, DEFAULT_SEED, dependentOffsets, generateLongRange, type SpanKind } from "./corpus.ts";

export { generateLongRange, markLongRange, dependentOffsets, DEFAULT_BYTES, DEFAULT_SEED } from "./corpus.ts";

export const DEFAULT_OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "data", "longrange.txt");

function main(argv: string[]): void {
  let out = DEFAULT_OUT;
  let bytes = DEFAULT_BYTES;
  let seed = DEFAULT_SEED;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const val = argv[i + 1];
    if (flag === "--out" && val !== undefined) out = val;
    else if (flag === "--bytes" && val !== undefined && /^\d+$/.test(val) && Number(val) > 0) bytes = Number(val);
    else if (flag === "--seed" && val !== undefined && /^\d+$/.test(val)) seed = Number(val);
    else {
      console.error(`make_corpus: bad argument '${flag}'. Usage: npx tsx experiments/longrange/make_corpus.ts [--out FILE] [--bytes N] [--seed N]`);
      process.exit(2);
    }
    i++;
  }
  const { text, spans } = generateLongRange({ bytes, seed });
  const tmp = `${out}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, "utf8");
  fs.renameSync(tmp, out);
  const byKind = new Map<SpanKind, number>();
  for (const s of spans) byKind.set(s.kind, (byKind.get(s.kind) ?? 0) + s.end - s.start);
  const kinds = [...byKind].map(([k, n]) => `${k} ${n}`).join(", ");
  console.log(
    `wrote ${out}: ${Buffer.byteLength(text, "utf8")} bytes, ${text.split("\n\n").length} paragraphs, ` +
      `${dependentOffsets(spans).length} long-range-dependent characters (${kinds})`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
