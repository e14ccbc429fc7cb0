// The `rnn` command line: thin commander wrappers over the library. Only src/cli/ prints or exits.
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { EXIT, reportError } from "./common.ts";
import { diagnoseCommand } from "./diagnose.ts";
import { benchCommand } from "./bench.ts";
import { evalCommand } from "./eval.ts";
import { addOptions, type CommandName, familiarHint } from "./options.ts";
import { importCommand } from "./import.ts";
import { infoCommand } from "./info.ts";
import { predictCommand } from "./predict.ts";
import { sampleCommand } from "./sample.ts";
import { scoreCommand } from "./score.ts";
import { serveCommand } from "./serve.ts";
import { exportCommand } from "./export.ts";
import { trainCommand } from "./train.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));

interface CommandSpec {
  description: string;
  /** positional arguments: commander's name ("[corpus...]") and description */
  args: [string, string][];
  /** what --help ends with: two or three command lines that work */
  examples: string[];
  // each action takes its positional arguments, then its flags (FlagsOf<command>)
  action: (...args: never[]) => Promise<void>;
}

/** The commands; their options are declared in options.ts. */
export const COMMANDS: Record<CommandName, CommandSpec> = {
  train: {
    description: "train a model on one or more UTF-8 text files (truncated BPTT), checkpointing as it goes",
    args: [["[corpus...]", "UTF-8 text files (concatenated); optional with --resume"]],
    examples: [
      "rnn train data/longrange.txt",
      "rnn train input.txt --cell gru --layers 3 --hidden 256 --dropout 0.2 --time 1h --out runs/gru",
      "rnn train --resume runs/gru --steps 20000",
    ],
    action: trainCommand,
  },
  sample: {
    description: "generate text from a trained model (streams to stdout)",
    args: [],
    examples: [
      "rnn sample -m runs/longrange-lstm",
      'rnn sample -m runs/longrange-lstm/best.safetensors --prime "The " -t 0.7 --length 500',
      "rnn sample -m runs/longrange-lstm -n 3 --seed 7 --top-k 5",
    ],
    action: sampleCommand,
  },
  eval: {
    description: "loss, bits per character and perplexity of a model on a text (default: its validation split)",
    args: [["[file]", "UTF-8 text to score, run as one stream from a zero state"]],
    examples: [
      "rnn eval -m runs/longrange-lstm",
      "rnn eval -m runs/longrange-lstm/best.safetensors held-out.txt --json",
      "rnn eval -m runs/longrange-lstm held-out.txt --dynamic",
    ],
    action: evalCommand,
  },
  predict: {
    description: "the distribution of the next character after TEXT: the most likely ones as bars, the rest's mass",
    args: [["<text>", "text to continue (\"\" = the start of a line)"]],
    examples: [
      "rnn predict -m runs/abc-lstm ABCABCAB",
      "rnn predict -m runs/longrange-lstm \"She speaks \" -k 5 --json",
    ],
    action: predictCommand,
  },
  score: {
    description: "the surprisal of every character of a text: the text coloured by it (a heat map), then nats, bits per character, perplexity",
    args: [["[file]", "UTF-8 text to score (or --text)"]],
    examples: [
      "rnn score -m runs/longrange-lstm notes.txt",
      "rnn score -m runs/longrange-lstm --text \"Marie lives in Lyon, France.\" --json",
    ],
    action: scoreCommand,
  },
  info: {
    description: "what a run directory or checkpoint holds: cell, sizes, vocabulary, step, losses, corpus, flags, files",
    args: [["<run>", "run directory or .safetensors file"]],
    examples: [
      "rnn info runs/longrange-lstm",
      "rnn info runs/longrange-lstm/best.safetensors --json",
    ],
    action: infoCommand,
  },
  import: {
    description: "turn a PyTorch state_dict (.pt) or a safetensors file written elsewhere into an rnn run directory that sample, eval, predict and --resume accept",
    args: [["<files...>", "the weights: .safetensors or .pt (rnn's tensor names, or nn.Embedding + nn.LSTM/GRU/RNN + nn.Linear names)"]],
    examples: [
      "rnn import model.safetensors --out runs/from-torch",
      "rnn import state_dict.pt --vocab input.txt --out runs/from-torch",
    ],
    action: importCommand,
  },
  diagnose: {
    description: "vanishing / exploding gradients: decay of the last step's gradient back through a chunk, singular values of the recurrent matrices, saturated gates (table + SVG plot)",
    args: [["[file]", "UTF-8 text to run (default: the run's validation split)"]],
    examples: [
      "rnn diagnose -m runs/longrange-lstm",
      "rnn diagnose -m runs/rnn -m runs/lstm --seq 200 --svg compare.svg",
    ],
    action: diagnoseCommand,
  },
  bench: {
    description: "time the standard training and sampling workloads (synthetic data, V=65, one-hot, Adam, clip 5)",
    args: [],
    examples: [
      "rnn bench",
      "rnn bench --only P1,P4 --threads 2 --seconds 10 --json",
    ],
    action: benchCommand,
  },
  serve: {
    description: "a local web dashboard of your runs, live while they train (loss, learning rate, gradient norm, samples, config), and each run's playground",
    args: [["[run...]", "run directories to show (default: every run under --dir)"]],
    examples: [
      "rnn serve",
      "rnn serve runs/lstm runs/gru --port 0",
      "rnn serve --dir experiments/runs --port 9000",
    ],
    action: serveCommand,
  },
  export: {
    description: "the playground of a model as one self-contained HTML file: type, see the next-character odds, generate, score; offline",
    args: [["<run>", "run directory (its latest checkpoint) or .safetensors file"]],
    examples: [
      "rnn export --html runs/longrange-lstm -o model.html",
      "rnn export --html runs/longrange-lstm/best.safetensors",
    ],
    action: exportCommand,
  },
};

const examples = (lines: string[]) => `\nExamples:\n${lines.map((l) => `  ${l}`).join("\n")}\n`;

export function buildProgram(): Command {
  const program = new Command("rnn")
    .description("Train character-level RNN / LSTM / GRU language models, sample from them, evaluate them.")
    .version(pkg.version, "-V, --version")
    // commander's own usage errors, in rnn's one-line form (its "did you mean" suggestion joins the line)
    .configureOutput({
      outputError: (s, write) => write(`rnn: error: ${s.replace(/^error: /, "").replace(/\n\(Did you mean (.*)\?\)/, "; did you mean $1?").trim()} (see --help)\n`),
    })
    .exitOverride()
    .addHelpText("after", examples([COMMANDS.train.examples[0], COMMANDS.sample.examples[0], COMMANDS.eval.examples[0]]));

  for (const [name, spec] of Object.entries(COMMANDS) as [CommandName, CommandSpec][]) {
    const cmd = program.command(name).description(spec.description);
    for (const [arg, description] of spec.args) cmd.argument(arg, description);
    addOptions(cmd, name)
      .addHelpText("after", examples(spec.examples))
      .action(spec.action as (...args: unknown[]) => Promise<void>);
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    // a flag as char-rnn, torch-rnn or nanoGPT spell it: one line naming rnn's
    const hint = familiarHint(argv.slice(2));
    if (hint) program.error(`error: unknown option '${hint.option}'; did you mean ${hint.suggestion}?`, { exitCode: EXIT.usage, code: "commander.unknownOption" });
    await program.parseAsync(argv);
    return (process.exitCode as number | undefined) ?? EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; every usage mistake exits 2 (commander already printed its message)
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(err);
  }
}
