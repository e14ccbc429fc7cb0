// A UTF-8 text file given on the command line (--prime-file, rnn score FILE), read the way a corpus is read
// (strict UTF-8, a BOM dropped, one clear line for a missing or unreadable file).
import { decodeIds, readCorpus } from "../corpus/corpus.ts";
import { RnnError, UsageError } from "../errors.ts";

/**
 * The text of `file`. Its problems are readCorpus's one-line errors, naming the file by what it is on this
 * command line (`--prime-file 'x.txt' not found`, `file 'x.txt' is empty`), not as a corpus. When the file
 * is a flag's value (`flag` given), a path that names nothing is a usage error (exit 2), as for --model; a
 * file that is there but unusable (a directory, empty, binary, not UTF-8) stays a run-time error (exit 1).
 */
export function readCorpusText(file: string, flag?: string): string {
  try {
    const c = readCorpus([file]);
    return decodeIds(c.ids, c.vocab);
  } catch (e) {
    if (!(e instanceof RnnError)) throw e;
    const message = e.message.replace(/corpus (file )?'/, `${flag ?? "file"} '`);
    if (flag !== undefined && / not found: /.test(message)) throw new UsageError(message);
    throw new RnnError(message);
  }
}
