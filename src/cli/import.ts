// `rnn import FILE... --out RUN [--vocab FILE]`: a PyTorch-written model (safetensors, or a torch.save'd
// state_dict through Python) becomes an rnn run directory. The logic is src/checkpoint/import.ts.
import path from "node:path";
import chalk from "chalk";
import { UsageError } from "../errors.ts";
import { importCheckpoint } from "../checkpoint/import.ts";
import type { FlagsOf } from "./options.ts";

/** The flags of `rnn import`, as declared in options.ts. */
export type ImportFlags = FlagsOf<"import">;

export async function importCommand(files: string[], flags: ImportFlags): Promise<void> {
  if (!flags.out) throw new UsageError("--out RUN is required: the run directory to write");
  if (flags.activation !== undefined && flags.activation !== "tanh" && flags.activation !== "relu") {
    throw new UsageError(`--activation must be one of tanh, relu; got '${flags.activation}'`);
  }
  const r = importCheckpoint(files, {
    out: flags.out, vocab: flags.vocab, activation: flags.activation, residual: flags.residual,
    batch: flags.batch, seq: flags.seq, seed: flags.seed, force: flags.force, python: flags.python,
  });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({
      out: r.out, latest: r.latest, state: r.state, model: r.model, description: r.description, parameters: r.parameters,
      step: r.step, permuted: r.permuted, cellFromShapes: r.cellFromShapes, mapping: r.mapping,
    })}\n`);
    return;
  }
  const renamed = r.mapping.filter((t) => t.name !== t.from).length;
  const corpus = r.config.corpus.length ? ` ${r.config.corpus.map((p) => (path.relative(process.cwd(), p).startsWith("..") ? p : path.relative(process.cwd(), p))).join(" ")}` : " CORPUS";
  process.stdout.write(
    `${chalk.bold("imported")} ${files.join(", ")} → ${chalk.cyan(r.latest)}: ${r.description} · ${r.parameters.toLocaleString("en-US")} parameters · step ${r.step}` +
      `${renamed ? ` · ${renamed} tensor${renamed === 1 ? "" : "s"} renamed` : ""}${r.permuted ? " · vocabulary sorted by code point (rows permuted)" : ""}\n` +
      (r.cellFromShapes && r.model.cell === "gru"
        ? `  a gru by its shapes (weight_hh ${3 * r.model.hidden}×${r.model.hidden}); an LSTM without forget gate has the same: import it from a file with rnn's config (rnn_torch.save, or rnn_torch.py convert --config)\n`
        : "") +
      `  sample: rnn sample --model ${r.out} · evaluate: rnn eval --model ${r.out} FILE · fine-tune: rnn train --resume ${r.out}${corpus} --steps N\n`,
  );
}
