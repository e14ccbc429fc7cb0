// The `rnn` command line: thin commander wrappers over the library. Only src/cli/ prints or exits.
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { ACTIVATIONS, CELLS, INITS, OPTIMIZERS, parseChoice, parseDuration, parseFloatFlag, parseIntFlag } from "../config.ts";
import { EXIT, reportError } from "./common.ts";
import { diagnoseCommand } from "./diagnose.ts";
import { benchCommand } from "./bench.ts";
import { evalCommand } from "./eval.ts";
import { sampleCommand } from "./sample.ts";
import { trainCommand } from "./train.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));

const int = (flag: string, min = 1) => (v: string) => parseIntFlag(flag, v, min);
const num = (flag: string, o: Parameters<typeof parseFloatFlag>[2] = {}) => (v: string) => parseFloatFlag(flag, v, o);
const choice = <T extends string>(flag: string, cs: readonly T[]) => (v: string) => parseChoice(flag, v, cs);

export function buildProgram(): Command {
  const program = new Command("rnn")
    .description("Train character-level RNN / LSTM / GRU language models, sample from them, evaluate them.")
    .version(pkg.version, "-V, --version")
    // commander's own usage errors, in rnn's one-line form
    .configureOutput({ outputError: (s, write) => write(`rnn: error: ${s.replace(/^error: /, "").trim()} (see --help)\n`) })
    .exitOverride();

  program
    .command("train")
    .description("train a model on one or more UTF-8 text files (truncated BPTT), checkpointing as it goes")
    .argument("[corpus...]", "UTF-8 text files (concatenated); optional with --resume")
    .addOption(new Option("--cell <kind>", "rnn | lstm | gru (default lstm)").argParser(choice("--cell", CELLS)))
    .addOption(new Option("--layers <L>", "stacked layers (default 2)").argParser(int("--layers")))
    .addOption(new Option("--hidden <H>", "hidden width (default 128)").argParser(int("--hidden")))
    .addOption(new Option("--embed <E>", "embedding width; 0 = one-hot input (default 0)").argParser(int("--embed", 0)))
    .addOption(new Option("--activation <fn>", "tanh | relu, for --cell rnn (default tanh)").argParser(choice("--activation", ACTIVATIONS)))
    .addOption(new Option("--residual", "y = x + f(x) between stacked layers"))
    .addOption(new Option("--dropout <p>", "inverted dropout between layers and before the decoder (default 0)").argParser(num("--dropout", { min: 0, max: 1, exclusiveMax: true })))
    .addOption(new Option("--init <kind>", "orthogonal | xavier | pytorch (default orthogonal)").argParser(choice("--init", INITS)))
    .addOption(new Option("--forget-bias <b>", "LSTM forget-gate bias (default 1 with xavier/orthogonal init)").argParser(num("--forget-bias")))
    .addOption(new Option("--batch <B>", "parallel streams (default 50)").argParser(int("--batch")))
    .addOption(new Option("--seq <T>", "steps per chunk, the truncated-BPTT length (default 50)").argParser(int("--seq")))
    .addOption(new Option("--val-frac <f>", "tail fraction held out for validation (default 0.05)").argParser(num("--val-frac", { min: 0, max: 1, exclusiveMax: true })))
    .addOption(new Option("--optimizer <name>", "adam | rmsprop | adagrad | sgd (default adam)").argParser(choice("--optimizer", OPTIMIZERS)))
    .addOption(new Option("--lr <rate>", "learning rate (default 2e-3)").argParser(num("--lr", { min: 0, exclusiveMin: true })))
    .addOption(new Option("--momentum <m>", "sgd momentum (default 0.9)").argParser(num("--momentum", { min: 0, max: 1, exclusiveMax: true })))
    .addOption(new Option("--weight-decay <w>", "L2 weight decay (default 0)").argParser(num("--weight-decay", { min: 0 })))
    .addOption(new Option("--clip <norm>", "global gradient-norm clipping, 0 = off (default 5)").argParser(num("--clip", { min: 0 })))
    .addOption(new Option("--clip-value <v>", "per-element gradient clipping, 0 = off (default 0)").argParser(num("--clip-value", { min: 0 })))
    .addOption(new Option("--ortho-reg <lambda>", "orthogonal regularisation λ‖WᵀW − I‖² of recurrent matrices (default 0)").argParser(num("--ortho-reg", { min: 0 })))
    .addOption(new Option("--lr-decay <f>", "multiply the learning rate by f every --lr-decay-every steps (default 1)").argParser(num("--lr-decay", { min: 0, exclusiveMin: true, max: 1 })))
    .addOption(new Option("--lr-decay-every <n>", "steps between learning-rate decays").argParser(int("--lr-decay-every")))
    .addOption(new Option("--warmup <n>", "linear learning-rate warmup steps (default 0)").argParser(int("--warmup", 0)))
    .addOption(new Option("--patience <k>", "stop after k evaluations without improvement (default off)").argParser(int("--patience", 0)))
    .addOption(new Option("--steps <n>", "optimizer steps, counted from the start of the run (default 1000 if no budget given)").argParser(int("--steps")))
    .addOption(new Option("--epochs <n>", "passes over the training text").argParser(int("--epochs")))
    .addOption(new Option("--time <duration>", "wall-clock budget, e.g. 90s, 15m, 1h30m").argParser((v) => parseDuration("--time", v)))
    .addOption(new Option("--eval-every <n>", "steps between validations (default 200)").argParser(int("--eval-every")))
    .addOption(new Option("--checkpoint-every <n>", "steps between checkpoints (default 500)").argParser(int("--checkpoint-every")))
    .addOption(new Option("--keep <n>", "also keep the n newest step checkpoints (default 0)").argParser(int("--keep", 0)))
    .addOption(new Option("--seed <s>", "random seed (default 42)").argParser(int("--seed", 0)))
    .addOption(new Option("--threads <n>", "worker threads (default: every core)").argParser(int("--threads")))
    .addOption(new Option("--out <dir>", "run directory (default runs/<corpus>-<cell>)"))
    .addOption(new Option("--resume <dir>", "continue the run in <dir> exactly where it stopped"))
    .addOption(new Option("--force", "overwrite an existing run in --out"))
    .addOption(new Option("--kernels <kind>", "auto | wasm | ref (default auto)").argParser(choice("--kernels", ["auto", "wasm", "ref"] as const)).hideHelp())
    .option("--json", "one JSON event per line on stdout")
    .option("-q, --quiet", "print nothing but errors")
    .action(trainCommand);

  program
    .command("sample")
    .description("generate text from a trained model (streams to stdout)")
    .requiredOption("-m, --model <path>", "run directory (its latest checkpoint) or .safetensors file")
    .addOption(new Option("--length <n>", "characters to generate (default 1000)").argParser(int("--length")))
    .addOption(new Option("-t, --temperature <T>", "softmax temperature > 0 (default 1)").argParser(num("--temperature", { min: 0, exclusiveMin: true })))
    .option("--prime <text>", "text fed first (and echoed)")
    .addOption(new Option("--seed <s>", "random seed (default 42)").argParser(int("--seed", 0)))
    .option("--argmax", "always pick the most likely character")
    .addOption(new Option("--top-k <k>", "sample among the k most likely characters").argParser(int("--top-k")))
    .addOption(new Option("-n, --count <n>", "generate n samples in parallel (default 1)").argParser(int("--count")))
    .addOption(new Option("--kernels <kind>").argParser(choice("--kernels", ["auto", "wasm", "ref"] as const)).hideHelp())
    .action(sampleCommand);

  program
    .command("eval")
    .description("loss, bits per character and perplexity of a model on a text (default: its validation split)")
    .requiredOption("-m, --model <path>", "run directory (its latest checkpoint) or .safetensors file")
    .argument("[file]", "UTF-8 text to score, run as one stream from a zero state")
    .option("--json", 'print {"loss","bpc","perplexity","chars","skipped"}')
    .addOption(new Option("--kernels <kind>").argParser(choice("--kernels", ["auto", "wasm", "ref"] as const)).hideHelp())
    .action(evalCommand);

  program
    .command("diagnose")
    .description("vanishing / exploding gradients: decay of the last step's gradient back through a chunk, singular values of the recurrent matrices, saturated gates (table + SVG plot)")
    .requiredOption("-m, --model <path>", "run directory or .safetensors file; repeat to compare models in one plot", (v: string, prev?: string[]) => [...(prev ?? []), v])
    .argument("[file]", "UTF-8 text to run (default: the run's validation split)")
    .addOption(new Option("--seq <T>", "steps in the chunk (default: the model's --seq)").argParser(int("--seq")))
    .addOption(new Option("--batch <B>", "streams, at evenly spread offsets of the text (default 16)").argParser(int("--batch")))
    .option("--svg <file>", "where to write the plot (default: diagnose.svg beside the first model)")
    .option("--no-svg", "write no plot")
    .addOption(new Option("--every <n>", "table rows every n steps (default: about 20 rows)").argParser(int("--every")))
    .option("--json", "print the numbers as one JSON object")
    .action(diagnoseCommand);

  program
    .command("bench")
    .description("time the standard training and sampling workloads (synthetic data, V=65, one-hot, Adam, clip 5)")
    .option("--only <ids>", "comma-separated workloads: P1,P2,P3,P4,S1,S2 (default all)")
    .addOption(new Option("--threads <n>", "training threads (default: every core)").argParser(int("--threads")))
    .addOption(new Option("--seconds <s>", "timed seconds per workload (default 5)").argParser(num("--seconds", { min: 0, exclusiveMin: true })))
    .option("--json", "one JSON object per workload")
    .addOption(new Option("--kernels <kind>").argParser(choice("--kernels", ["auto", "wasm", "ref"] as const)).hideHelp())
    .action(benchCommand);

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
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
