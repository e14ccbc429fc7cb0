// `rnn export --html RUN -o FILE`: the playground as one self-contained HTML file (src/web/bundle.ts): the
// checkpoint (weights, vocabulary, config) base64 in the page, the kernel builds and the bundled script inline.
// It opens offline from disk in any current browser and runs the model there, on the CLI's kernels and code.
import fs from "node:fs";
import path from "node:path";
import { resolveModelPath } from "../checkpoint/checkpoint.ts";
import { UsageError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { decodeCheckpoint, describeModel, checkpointMeta } from "../lib/checkpoint-bytes.ts";
import { LATEST } from "../run/dir.ts";
import { playgroundHtml } from "../web/bundle.ts";
import type { FlagsOf } from "./options.ts";

export type ExportFlags = FlagsOf<"export">;

/** The name a model goes by in the page and the default file name: the run directory, or the file's name. */
export function exportName(run: string, file: string): string {
  const dir = path.basename(path.resolve(path.dirname(file)));
  const base = path.basename(file, ".safetensors");
  return path.basename(file) === LATEST ? dir : fs.existsSync(path.join(path.dirname(file), LATEST)) ? `${dir}-${base}` : base;
}

export async function exportCommand(run: string, flags: ExportFlags): Promise<void> {
  if (!flags.html) throw new UsageError("say what to export: --html (one self-contained HTML page; the only format so far)");
  if (!fs.existsSync(run)) throw new UsageError(`'${run}' does not exist: give a run directory (e.g. runs/my-run) or a .safetensors checkpoint`);
  if (fs.statSync(run).isDirectory() && !fs.existsSync(path.join(run, LATEST))) {
    throw new UsageError(`'${run}' has no ${LATEST}: give the directory of a run of rnn train, or a .safetensors checkpoint`);
  }
  const file = resolveModelPath(run);
  const bytes = fs.readFileSync(file);
  const contents = decodeCheckpoint(bytes, file); // a corrupt checkpoint is refused here, not in the page
  const name = exportName(run, file);
  const html = await playgroundHtml(bytes, name);
  const out = flags.out ?? `${name}.html`;
  writeFileAtomic(out, html, { what: "HTML page" });
  const meta = checkpointMeta(contents, file);
  process.stdout.write(
    `wrote ${out}: ${size(Buffer.byteLength(html))} (${describeModel(meta.config.model)}, step ${meta.step}; its checkpoint ` +
      `${size(bytes.length)} as base64, the kernels and script inline); open it in a browser, no server needed\n`,
  );
}

/** 1234567 → "1.23 MB", 45678 → "45.7 kB" */
export function size(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : bytes >= 1e3 ? `${(bytes / 1e3).toFixed(1)} kB` : `${bytes} B`;
}
