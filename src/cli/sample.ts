// `rnn sample`: load a checkpoint, generate, stream to stdout.
import fs from "node:fs";
import { SAMPLE_DEFAULTS, type SampleConfig } from "../config.ts";
import { UsageError } from "../errors.ts";
import { selectKernels } from "../kernels/index.ts";
import { primeIds, sampleScored } from "../sample/sample.ts";
import { readCorpusText } from "./read.ts";
import { loadModel } from "../checkpoint/checkpoint.ts";
import type { FlagsOf } from "./options.ts";

/** The flags of `rnn sample`, as declared in options.ts. */
export type SampleFlags = FlagsOf<"sample">;

export async function sampleCommand(flags: SampleFlags): Promise<void> {
  refuseNonsense(flags);
  const prime = flags.primeFile !== undefined ? readCorpusText(flags.primeFile, "--prime-file") : flags.prime;
  const ops = await selectKernels(flags.kernels);
  const { model, meta } = loadModel(flags.model, ops);
  if (flags.primeFile !== undefined) {
    // characters the model never saw, named as what the user gave: the file, not a --prime they did not type
    try {
      primeIds(prime!, meta.vocab);
    } catch (e) {
      if (e instanceof UsageError) throw new UsageError(e.message.replace(/^--prime has/, `--prime-file '${flags.primeFile}' has`));
      throw e;
    }
  }
  await ops.startHelper?.(); // large models: the kernels share each step's matrix-vector products with a second core
  const d = SAMPLE_DEFAULTS;
  const count = flags.count ?? d.count;
  const opts: SampleConfig = {
    length: flags.length ?? d.length,
    temperature: flags.temperature ?? d.temperature,
    prime: prime ?? d.prime,
    seed: flags.seed ?? d.seed,
    argmax: flags.argmax ?? d.argmax,
    topK: flags.topK ?? d.topK,
    topP: flags.topP ?? d.topP,
    count,
  };
  // One sample streams as it is generated. Several are generated side by side (one batch), and each line of
  // each sample is printed as soon as it is complete, behind its sample's number. Writes are synchronous, so a
  // reader that goes away (rnn sample | head) stops generation at once. --json prints one line per sample at
  // the end, with its log-probabilities.
  const lines = Array.from({ length: count }, () => "");
  const tag = (k: number) => `[${k + 1}] `;
  let pending = "";
  try {
    const samples = sampleScored(model, meta.vocab, opts, (k, ch) => {
      if (flags.json) return;
      if (count === 1) {
        pending += ch;
        if (pending.length >= 64 || ch === "\n") {
          write(pending);
          pending = "";
        }
        return;
      }
      if (ch === "\n") {
        write(`${tag(k)}${lines[k]}\n`);
        lines[k] = "";
      } else lines[k] += ch;
    });
    if (flags.json) {
      for (const s of samples) write(`${JSON.stringify({ text: s.text, logprob: s.logprob, modelLogprob: s.modelLogprob })}\n`);
    } else if (count === 1) write(`${pending}\n`);
    else lines.forEach((l, k) => l && write(`${tag(k)}${l}\n`));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPIPE") throw e;
  }
}

/** Flag combinations that cannot do what they say: one line each, exit 2. */
function refuseNonsense(flags: SampleFlags): void {
  if (flags.prime !== undefined && flags.primeFile !== undefined) throw new UsageError("--prime and --prime-file exclude each other; give one");
  if (!flags.argmax) return;
  if (flags.topK !== undefined) throw new UsageError("--argmax and --top-k exclude each other");
  if (flags.topP !== undefined) throw new UsageError("--argmax and --top-p exclude each other");
  if (flags.temperature !== undefined) throw new UsageError("--argmax ignores --temperature (the most likely character is the same at every temperature); drop one");
  if ((flags.count ?? 1) > 1) throw new UsageError("--argmax with -n gives n identical samples (nothing is random); drop -n, or drop --argmax");
}

function write(s: string): void {
  const b = Buffer.from(s, "utf8");
  for (let o = 0; o < b.length; ) {
    try {
      o += fs.writeSync(1, b, o);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e; // a non-blocking pipe that is full: retry
    }
  }
}
