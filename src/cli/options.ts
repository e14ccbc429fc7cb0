// Every command-line option of every command, declared once, as data (as npm-check-updates does). From this
// table come commander's options (flags, parser, help, hidden, required), the help's "(default …)" — read from
// the defaults in src/config.ts, so help cannot go stale —, the flag types of each command (FlagsOf) and the
// "did you mean" hint for names from char-rnn, torch-rnn and nanoGPT.
import { type Command, Option } from "commander";
import {
  ACTIVATIONS, BENCH_DEFAULTS, CELLS, DEFAULT_STEPS, DIAGNOSE_DEFAULTS, DROPOUT_MODES, DYNAMIC_EVAL_DEFAULTS, INITS, LR_SCHEDULES, MODEL_DEFAULTS, NORM_CHOICES,
  OPTIMIZERS, ORTHO_OPTS, parseChoice, parseDuration, parseFloatFlag, parseIntFlag, PREDICT_DEFAULTS, SAMPLE_DEFAULTS, TRAIN_DEFAULTS, TRAIN_EXTRA_DEFAULTS,
  SERVE_DEFAULTS, TRAIN_SAMPLE_DEFAULTS,
} from "../config.ts";
import { UsageError } from "../errors.ts";
import type { KernelChoice } from "../kernels/index.ts";

export const COMMAND_NAMES = ["train", "sample", "eval", "predict", "score", "info", "import", "diagnose", "bench", "serve", "export"] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export interface OptionDecl {
  /** commander's flags: "--hidden <H>", "-t, --temperature <T>", "--residual" */
  readonly flags: string;
  /** where the value lands in the command's flags (commander's camelCase of the long flag) */
  readonly field: string;
  /** raw text → value, throwing a one-line UsageError that names the flag; none: a switch, or free text */
  readonly parse?: (flag: string, raw: string, previous: never) => unknown;
  readonly help: string;
  /**
   * What help says the default is. Left out: the value of `field` in the command's defaults in config.ts
   * (CONFIG_DEFAULTS below; building the command fails if there is none, so an option with a value
   * either shows config's default or says why not). A string: a default that is
   * not a config value ("every core"). false: say nothing.
   */
  readonly default?: string | false;
  readonly commands: readonly CommandName[];
  readonly hidden?: boolean;
  readonly required?: boolean;
  /** what char-rnn, torch-rnn, nanoGPT or PyTorch call it: `--rnn_size` gets "did you mean --hidden?" */
  readonly familiar?: readonly string[];
}

/** Where help finds each command's defaults: config.ts's objects themselves, read when help is built. */
export const CONFIG_DEFAULTS: Record<CommandName, readonly object[]> = {
  train: [MODEL_DEFAULTS, TRAIN_DEFAULTS, TRAIN_SAMPLE_DEFAULTS, TRAIN_EXTRA_DEFAULTS],
  sample: [SAMPLE_DEFAULTS],
  eval: [DYNAMIC_EVAL_DEFAULTS],
  predict: [PREDICT_DEFAULTS],
  score: [],
  info: [],
  import: [MODEL_DEFAULTS, TRAIN_DEFAULTS],
  diagnose: [DIAGNOSE_DEFAULTS],
  bench: [BENCH_DEFAULTS],
  serve: [SERVE_DEFAULTS],
  export: [],
};

/** The config default of a command's field, or undefined when config.ts has none. */
export function configDefault(command: CommandName, field: string): unknown {
  const source = CONFIG_DEFAULTS[command].find((o) => field in o) as Record<string, unknown> | undefined;
  return source?.[field];
}

// value parsers: each gets the flag's long name for its error message
const int = (min = 1) => (flag: string, raw: string) => parseIntFlag(flag, raw, min);
const num = (o: Parameters<typeof parseFloatFlag>[2] = {}) => (flag: string, raw: string) => parseFloatFlag(flag, raw, o);
const choice = <T extends string>(cs: readonly T[]) => (flag: string, raw: string): T => parseChoice(flag, raw, cs);
const fraction = num({ min: 0, max: 1, exclusiveMax: true });
const positive = num({ min: 0, exclusiveMin: true });
const nonNegative = num({ min: 0 });
/** a repeatable flag: every value, in order */
const each = (_flag: string, raw: string, previous: string[] | undefined): string[] => [...(previous ?? []), raw];
const KERNELS = ["auto", "wasm", "ref"] as const satisfies readonly KernelChoice[];
const parsePort = (flag: string, raw: string): number => {
  const n = parseIntFlag(flag, raw, 0);
  if (n > 65535) throw new UsageError(`${flag} must be a port number from 0 to 65535, got ${raw}`);
  return n;
};

export const OPTIONS = [
  // ---- rnn train: the model
  { flags: "--cell <kind>", field: "cell", parse: choice(CELLS), help: CELLS.join(" | "), commands: ["train"], familiar: ["model_type"] },
  { flags: "--layers <L>", field: "layers", parse: int(), help: "stacked layers", commands: ["train"], familiar: ["num_layers", "n_layer"] },
  { flags: "--hidden <H>", field: "hidden", parse: int(), help: "hidden width", commands: ["train"], familiar: ["rnn_size", "hidden_size"] },
  { flags: "--embed <E>", field: "embed", parse: int(0), help: "embedding width; 0 = one-hot input", commands: ["train"], familiar: ["wordvec_size", "embedding_dim"] },
  { flags: "--activation <fn>", field: "activation", parse: choice(ACTIVATIONS), help: `${ACTIVATIONS.join(" | ")}, for --cell rnn`, commands: ["train", "import"], familiar: ["nonlinearity"] },
  { flags: "--residual", field: "residual", help: "y = x + f(x) between stacked layers", commands: ["train", "import"] },
  { flags: "--dropout <p>", field: "dropout", parse: fraction, help: "inverted dropout between layers and before the decoder", commands: ["train"] },
  { flags: "--dropout-mode <mode>", field: "dropoutMode", parse: choice(DROPOUT_MODES), help: "--dropout's masks: element (fresh for every element) | locked (one per stream per chunk, the same at every step)", commands: ["train"] },
  { flags: "--dropout-input <p>", field: "dropoutInput", parse: fraction, help: "locked dropout on the embedding vectors (layer 0's input; needs --embed)", commands: ["train"] },
  { flags: "--weight-drop <p>", field: "weightDrop", parse: fraction, help: "DropConnect on W_hh: one mask per chunk, shared by all streams", commands: ["train"] },
  { flags: "--embed-dropout <p>", field: "embedDropout", parse: fraction, help: "drop whole embedding rows (characters) per chunk (needs --embed)", commands: ["train"] },
  { flags: "--init <kind>", field: "init", parse: choice(INITS), help: INITS.join(" | "), commands: ["train"] },
  { flags: "--norm <kind>", field: "norm", parse: choice(NORM_CHOICES), help: "normalise each layer's projections (and the LSTM's cell state): layer (Ba et al. 2016) | batch (Cooijmans et al. 2016)", default: "none", commands: ["train"] },
  { flags: "--no-forget-gate", field: "forgetGate", help: "--cell lstm without forget gate (1997: c_t = c_{t−1} + i⊙g)", commands: ["train"] },
  { flags: "--forget-bias <b>", field: "forgetBias", parse: num(), help: "LSTM forget-gate bias", default: "1 with xavier/orthogonal init", commands: ["train"] },
  // ---- rnn train: data and optimisation
  { flags: "--batch <B>", field: "batch", parse: int(), help: "parallel streams", commands: ["train", "import"], familiar: ["batch_size"] },
  { flags: "--seq <T>", field: "seq", parse: int(), help: "steps per chunk, the truncated-BPTT length", commands: ["train", "import"], familiar: ["seq_length", "block_size", "bptt"] },
  { flags: "--val-frac <f>", field: "valFrac", parse: fraction, help: "tail fraction held out for validation", commands: ["train"] },
  { flags: "--optimizer <name>", field: "optimizer", parse: choice(OPTIMIZERS), help: OPTIMIZERS.join(" | "), commands: ["train"] },
  { flags: "--lr <rate>", field: "lr", parse: positive, help: "learning rate", commands: ["train"], familiar: ["learning_rate"] },
  { flags: "--momentum <m>", field: "momentum", parse: fraction, help: "sgd momentum", commands: ["train"] },
  { flags: "--weight-decay <w>", field: "weightDecay", parse: nonNegative, help: "L2 weight decay (with --optimizer adamw: decoupled, θ ← θ·(1 − lr·w))", commands: ["train"] },
  { flags: "--clip <norm>", field: "clip", parse: nonNegative, help: "global gradient-norm clipping, 0 = off", commands: ["train"], familiar: ["grad_clip"] },
  { flags: "--clip-value <v>", field: "clipValue", parse: nonNegative, help: "per-element gradient clipping, 0 = off", commands: ["train"] },
  { flags: "--ortho-reg <lambda>", field: "orthoReg", parse: nonNegative, help: "orthogonal regularisation λ‖WᵀW − I‖² of recurrent matrices", commands: ["train"] },
  { flags: "--ortho-opt <kind>", field: "orthoOpt", parse: choice(ORTHO_OPTS), help: "cayley: keep every gate block of W_hh exactly orthogonal (Cayley retraction of each update; blocks start at the nearest orthogonal matrix to what --init drew)", default: "none", commands: ["train"] },
  { flags: "--lr-decay <f>", field: "lrDecay", parse: num({ min: 0, exclusiveMin: true, max: 1 }), help: "multiply the learning rate by f every --lr-decay-every steps", commands: ["train"], familiar: ["learning_rate_decay", "lr_decay_factor"] },
  { flags: "--lr-decay-every <n>", field: "lrDecayEvery", parse: int(), help: "steps between learning-rate decays", default: false, commands: ["train"] },
  { flags: "--warmup <n>", field: "warmup", parse: int(0), help: "linear learning-rate warmup steps", commands: ["train"], familiar: ["warmup_iters"] },
  { flags: "--lr-schedule <kind>", field: "lrSchedule", parse: choice(LR_SCHEDULES), help: "step (--lr-decay every --lr-decay-every steps) | cosine (from --lr after --warmup down to --lr-min at the step budget)", commands: ["train"] },
  { flags: "--lr-min <rate>", field: "lrMin", parse: nonNegative, help: "the learning rate --lr-schedule cosine ends at", commands: ["train"], familiar: ["min_lr"] },
  { flags: "--ema <decay>", field: "ema", parse: fraction, help: "average the weights as they train (exponential moving average, decay per step, e.g. 0.999): the average is the model validated, sampled and saved; 0 = off", commands: ["train"], familiar: ["model_ema_decay"] },
  { flags: "--calibrate <f>", field: "calibrate", parse: fraction, help: "head fraction of the corpus held out to fit the saved model's softmax temperature at the end of the run (calibration: an overconfident model scores better on unseen text); 0 = off", commands: ["train"] },
  { flags: "--patience <k>", field: "patience", parse: int(0), help: "stop after k evaluations without improvement", default: "off", commands: ["train"] },
  // ---- rnn train: budget, cadence, run
  { flags: "--steps <n>", field: "steps", parse: int(), help: "optimizer steps, counted from the start of the run", default: `${DEFAULT_STEPS} if no budget given`, commands: ["train"], familiar: ["max_iters"] },
  { flags: "--epochs <n>", field: "epochs", parse: int(), help: "passes over the training text", default: false, commands: ["train"], familiar: ["max_epochs"] },
  { flags: "--time <duration>", field: "time", parse: parseDuration, help: "wall-clock budget, e.g. 90s, 15m, 1h30m; alone (no --steps, --epochs), a new run's model and schedule are sized for it", default: false, commands: ["train"] },
  // --time auto-sizing (src/train/autosize.ts): the opt-out, and the tests' fixed speed instead of a measured one
  { flags: "--no-auto-size", field: "autoSize", help: "with --time alone: keep the defaults and stop at the time", commands: ["train"] },
  { flags: "--auto-size-speed <chars/s>", field: "autoSizeSpeed", parse: positive, help: "the reference workload's speed, instead of measuring it (tests)", default: false, hidden: true, commands: ["train"] },
  { flags: "--eval-every <n>", field: "evalEvery", parse: int(), help: "steps between validations", commands: ["train"], familiar: ["eval_val_every", "eval_interval"] },
  { flags: "--checkpoint-every <n>", field: "checkpointEvery", parse: int(), help: "steps between checkpoints", commands: ["train"], familiar: ["save_every"] },
  { flags: "--sample-every <n>", field: "sampleEvery", parse: int(0), help: "every n steps, a sample (seed --seed, after a newline) printed and added to samples.jsonl; 0 = off", default: "off", commands: ["train"] },
  { flags: "--sample-length <n>", field: "sampleLength", parse: int(), help: "characters per --sample-every sample", commands: ["train"] },
  { flags: "--keep <n>", field: "keep", parse: int(0), help: "also keep the n newest step checkpoints", commands: ["train"] },
  { flags: "--seed <s>", field: "seed", parse: int(0), help: "random seed", commands: ["train", "sample", "import"] },
  { flags: "--threads <n>", field: "threads", parse: int(), help: "worker threads", default: "every core", commands: ["train"] },
  { flags: "--out <dir>", field: "out", help: "run directory", default: "runs/<corpus>-<cell>", commands: ["train"], familiar: ["checkpoint_dir", "out_dir", "checkpoint_name"] },
  { flags: "--resume <dir>", field: "resume", help: "continue the run in <dir> exactly where it stopped", default: false, commands: ["train"] },
  { flags: "--init-from <run>", field: "initFrom", help: "fine-tune: a new run starting from the weights (and architecture) of a run directory's latest checkpoint or a .safetensors file", default: false, commands: ["train"] },
  { flags: "--config <file>", field: "config", help: "settings from a JSON file: a checkpoint's config or `rnn info --json` output; flags override it", default: false, commands: ["train"] },
  { flags: "--like <run>", field: "like", help: "the settings of another run (model and training; its corpus when none is given)", default: false, commands: ["train"] },
  { flags: "--force", field: "force", help: "overwrite an existing run in --out", commands: ["train", "import"] },
  { flags: "--json", field: "json", help: "one JSON event per line on stdout", commands: ["train"] },
  { flags: "-q, --quiet", field: "quiet", help: "print nothing but errors", commands: ["train"] },
  // ---- rnn sample (--model and --seed are shared)
  { flags: "-m, --model <path>", field: "model", help: "run directory (its latest checkpoint) or .safetensors file", required: true, commands: ["sample", "eval", "predict", "score"], familiar: ["checkpoint", "init_from"] },
  { flags: "--length <n>", field: "length", parse: int(), help: "characters to generate", commands: ["sample"], familiar: ["max_new_tokens"] },
  { flags: "-t, --temperature <T>", field: "temperature", parse: positive, help: "softmax temperature > 0", commands: ["sample", "predict"] },
  { flags: "--prime <text>", field: "prime", help: "text fed first (and echoed)", default: false, commands: ["sample"], familiar: ["primetext", "start_text", "start"] },
  { flags: "--prime-file <file>", field: "primeFile", help: "like --prime, with the text of a UTF-8 file", default: false, commands: ["sample"], familiar: ["prime_file"] },
  { flags: "--argmax", field: "argmax", help: "always pick the most likely character", commands: ["sample"] },
  { flags: "--top-k <k>", field: "topK", parse: int(), help: "sample among the k most likely characters", default: false, commands: ["sample"] },
  { flags: "--top-p <p>", field: "topP", parse: num({ min: 0, exclusiveMin: true, max: 1 }), help: "nucleus sampling: among the most likely characters whose mass reaches p", default: "off", commands: ["sample"], familiar: ["top_p"] },
  { flags: "-n, --count <n>", field: "count", parse: int(), help: "generate n samples in parallel", commands: ["sample"], familiar: ["num_samples"] },
  { flags: "--json", field: "json", help: 'one {"text","logprob","modelLogprob"} line per sample', commands: ["sample"] },
  // ---- rnn predict (--model and --temperature are shared)
  { flags: "-k, --top-k <k>", field: "topK", parse: int(0), help: "how many of the most likely characters to list, 0 = all", commands: ["predict"] },
  { flags: "--json", field: "json", help: "print the distribution as one JSON object", commands: ["predict"] },
  // ---- rnn score (--model is shared)
  { flags: "--text <text>", field: "text", help: "score this text instead of a FILE", default: false, commands: ["score"] },
  { flags: "--json", field: "json", help: "one JSON line per character, then one with the totals", commands: ["score"] },
  // ---- rnn import (--activation, --residual, --batch, --seq, --seed and --force are shared with train)
  { flags: "--out <dir>", field: "out", help: "the run directory to write", required: true, commands: ["import"] },
  { flags: "--vocab <file>", field: "vocab", help: "the vocabulary: a text file (its distinct characters, sorted by code point) or a JSON list in the model's order", default: "the file's vocab metadata", commands: ["import"] },
  { flags: "--python <path>", field: "python", help: "the Python with torch that reads a .pt file", default: "$RNN_PYTHON, python3, /usr/bin/python3", commands: ["import"] },
  { flags: "--json", field: "json", help: "print what was written as one JSON object", commands: ["import"] },
  // ---- rnn info
  { flags: "--json", field: "json", help: "print everything as one JSON object (usable as a --config file)", commands: ["info"] },
  // ---- rnn eval
  { flags: "--json", field: "json", help: 'print {"loss","bpc","perplexity","chars","skipped"}, and with --dynamic "dynamic": {"loss","bpc","perplexity","chars","lr","decay","seq"}', commands: ["eval"] },
  { flags: "--dynamic", field: "dynamic", help: "also dynamic evaluation: after scoring each chunk, one SGD step on it, decaying back toward the trained weights (reported apart)", commands: ["eval"] },
  { flags: "--dynamic-lr <rate>", field: "dynamicLr", parse: positive, help: "--dynamic: learning rate of the step on each chunk", commands: ["eval"] },
  { flags: "--dynamic-decay <lambda>", field: "dynamicDecay", parse: num({ min: 0, max: 1 }), help: "--dynamic: each step pulls the weights back by λ(θ₀ − θ)", commands: ["eval"] },
  { flags: "--seq <T>", field: "seq", parse: int(), help: "--dynamic: characters per chunk (one step each)", commands: ["eval"] },
  // ---- rnn diagnose
  { flags: "-m, --model <path>", field: "model", parse: each, help: "run directory or .safetensors file; repeat to compare models in one plot", required: true, commands: ["diagnose"], familiar: ["checkpoint"] },
  { flags: "--seq <T>", field: "seq", parse: int(), help: "steps in the chunk", default: "the model's --seq", commands: ["diagnose"], familiar: ["seq_length", "block_size", "bptt"] },
  { flags: "--batch <B>", field: "batch", parse: int(), help: "streams, at evenly spread offsets of the text", commands: ["diagnose"], familiar: ["batch_size"] },
  { flags: "--chunks <n>", field: "chunks", parse: int(0), help: "consecutive chunks of the carried-state run (‖c_t‖ by step); 0 = none", commands: ["diagnose"] },
  { flags: "--svg <file>", field: "svg", help: "where to write the plot", default: "diagnose.svg beside the first model", commands: ["diagnose"] },
  { flags: "--no-svg", field: "svg", help: "write no plot", commands: ["diagnose"] },
  { flags: "--every <n>", field: "every", parse: int(), help: "table rows every n steps", default: "about 20 rows", commands: ["diagnose"] },
  { flags: "--json", field: "json", help: "print the numbers as one JSON object", commands: ["diagnose"] },
  // ---- rnn bench
  { flags: "--only <ids>", field: "only", help: "comma-separated workloads: P1,P2,P3,P4,LN1,S1,S2", default: "all", commands: ["bench"] },
  { flags: "--threads <n>", field: "threads", parse: int(), help: "training threads", default: "every core", commands: ["bench"] },
  { flags: "--seconds <s>", field: "seconds", parse: positive, help: "timed seconds per workload", commands: ["bench"] },
  { flags: "--json", field: "json", help: "one JSON object per workload", commands: ["bench"] },
  // ---- rnn serve
  { flags: "--port <n>", field: "port", parse: parsePort, help: "port to listen on; 0 = any free one", commands: ["serve"] },
  { flags: "--host <address>", field: "host", help: "address to listen on; any but loopback is reachable from other machines (one line warns)", commands: ["serve"] },
  { flags: "--dir <dir>", field: "dir", help: "directory whose runs are listed and served; nothing outside it is", commands: ["serve"] },
  // ---- rnn export
  { flags: "--html", field: "html", help: "one self-contained HTML page: the playground, with weights, vocabulary, kernels and script inline (works offline)", commands: ["export"] },
  { flags: "-o, --out <file>", field: "out", help: "where to write it", default: "<run>.html", commands: ["export"] },
  // ---- every command that computes with the fast kernels: force a backend (tests, debugging)
  { flags: "--kernels <kind>", field: "kernels", parse: choice(KERNELS), help: KERNELS.join(" | "), default: "auto", hidden: true, commands: ["train", "sample", "eval", "predict", "score", "bench"] },
] as const satisfies readonly OptionDecl[];

// ---- the flag types of each command, derived from the table -------------------------------------------------

type Decl = (typeof OPTIONS)[number];
type DeclOf<E, C> = E extends { commands: readonly (infer X)[] } ? (C extends X ? E : never) : never;
type ValueOf<E> = E extends { parse: (...a: never[]) => infer V } ? V
  : E extends { flags: `${string}<${string}>` } ? string
  : E extends { flags: `--no-${string}` } ? false
  : boolean;

/** What commander hands the action of command C: one field per declared option; required ones always set. */
export type FlagsOf<C extends CommandName> =
  & { -readonly [E in DeclOf<Decl, C> as E extends { required: true } ? never : E["field"]]?: ValueOf<E> }
  & { -readonly [E in DeclOf<Decl, C> as E extends { required: true } ? E["field"] : never]: ValueOf<E> };

// ---- commander ---------------------------------------------------------------------------------------------

export const optionsOf = (command: CommandName): OptionDecl[] => (OPTIONS as readonly OptionDecl[]).filter((d) => d.commands.includes(command));

/** 2e-3 as "2e-3", 0.05 as "0.05". */
export function formatDefault(v: unknown): string {
  return typeof v === "number" && v !== 0 && Math.abs(v) < 1e-2 ? v.toExponential() : String(v);
}

/** The help line of an option: its text and the default, from config.ts unless it declares its own. */
export function helpOf(d: OptionDecl, command: CommandName): string {
  if (d.default === false) return d.help;
  if (typeof d.default === "string") return `${d.help} (default: ${d.default})`;
  if (!/<.*>/.test(d.flags) || d.required) return d.help; // a switch (off unless given), or a value always given
  const v = configDefault(command, d.field);
  if (v === undefined || v === null) throw new Error(`rnn ${command} ${d.flags}: no default for '${d.field}' in config.ts; declare default: "…" or false`);
  return `${d.help} (default ${formatDefault(v)})`;
}

/** Adds command C's declared options to its commander Command. */
export function addOptions(cmd: Command, command: CommandName): Command {
  for (const d of optionsOf(command)) {
    const o = new Option(d.flags, helpOf(d, command));
    const parse = d.parse as ((flag: string, raw: string, previous: unknown) => unknown) | undefined;
    if (parse) o.argParser((raw: string, previous: unknown) => parse(o.long!, raw, previous));
    if (d.required) o.makeOptionMandatory();
    if (d.hidden) o.hideHelp();
    if (o.attributeName() !== d.field) throw new Error(`${d.flags}: commander stores it as '${o.attributeName()}', the table says '${d.field}'`);
    cmd.addOption(o);
    // a lone --no-x: commander defaults x to true; leave it unset unless given, as FlagsOf types it
    if (o.negate && cmd.getOptionValue(d.field) === true) cmd.setOptionValueWithSource(d.field, undefined, "default");
  }
  return cmd;
}

// ---- "did you mean" --------------------------------------------------------------------------------------------

/**
 * The hint for an option command C does not have, but that another tool spells so (`--rnn_size`, `-primetext`,
 * `--max_new_tokens`), or that is one of C's flags with underscores or one dash (`--top_k`, `-length`):
 * "did you mean --hidden?", or null. Looks at the arguments after the command name, up to `--`, skipping the
 * values of C's options.
 */
export function familiarHint(args: string[]): { option: string; suggestion: string } | null {
  const at = args.findIndex((a) => !a.startsWith("-"));
  const command = COMMAND_NAMES.find((c) => c === args[at]);
  if (!command) return null;
  const decls = optionsOf(command).map((d) => {
    const [, short, long] = /^(?:(-\w), )?(--[\w-]+)/.exec(d.flags)!;
    return { d, short, long, takesValue: /<.*>/.test(d.flags) };
  });
  const name = (x: { short?: string; long: string }) => (x.short ? `${x.short}/${x.long}` : x.long);
  for (let i = at + 1; i < args.length; i++) {
    const a = args[i];
    if (a === "--") break;
    if (!a.startsWith("-") || a === "-") continue;
    const own = decls.find((x) => x.short === a || x.long === a || a.startsWith(`${x.long}=`));
    if (own) {
      if (own.takesValue && !a.includes("=")) i++;
      continue;
    }
    const word = a.replace(/^--?/, "").replace(/=[^]*$/, "");
    const lower = word.toLowerCase();
    const hit = decls.find((x) => !x.d.hidden && (x.d.familiar?.includes(lower) || x.long === `--${lower.replace(/_/g, "-")}`));
    if (hit) return { option: a.replace(/=[^]*$/, ""), suggestion: name(hit) };
  }
  return null;
}
