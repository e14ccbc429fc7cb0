// Shared by the library and web tests: a corpus with the bundled text's words, and Chromium for the browser tests.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** dir/corpus.txt: the first n characters of the bundled corpus (it has "Sofia", "speaks", the languages). */
export function corpusSlice(dir: string, n = 60_000): string {
  const file = path.join(dir, "corpus.txt");
  fs.writeFileSync(file, [...fs.readFileSync(path.join(ROOT, "data/longrange.txt"), "utf8")].slice(0, n).join(""));
  return file;
}
