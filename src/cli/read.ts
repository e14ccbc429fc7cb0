// A UTF-8 text file given on the command line (--prime-file, rnn score FILE), read the way a corpus is read
// (strict UTF-8, a BOM dropped, one clear line for a missing or unreadable file).
import { decodeIds, readCorpus } from "../corpus/corpus.ts";

export function readCorpusText(file: string, _flag?: string): string {
  const c = readCorpus([file]);
  return decodeIds(c.ids, c.vocab);
}
