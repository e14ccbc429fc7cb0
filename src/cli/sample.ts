// `rnn sample`: load a checkpoint, generate, stream to stdout.
import fs from "node:fs";
import { SAMPLE_DEFAULTS, type SampleConfig } from "../config.ts";
import { UsageError } from "../errors.ts";
import { selectKernels } from "../kernels/index.ts";
import { sample } from "../sample/sample.ts";
import { loadModel } from "../checkpoint/checkpoint.ts";
import type { FlagsOf } from "./options.ts";

/** The flags of `rnn sample`, as declared in options.ts. */
export type SampleFlags = FlagsOf<"sample">;

export async function sampleCommand(flags: SampleFlags): Promise<void> {
  if (flags.argmax && flags.topK !== undefined) throw new UsageError("--argmax and --top-k exclude each other");
  const ops = await selectKernels(flags.kernels);
  const { model, meta } = loadModel(flags.model, ops);
  await ops.startHelper?.(); // large models: the kernels share each step's matrix-vector products with a second core
  const d = SAMPLE_DEFAULTS;
  const count = flags.count ?? d.count;
  const opts: SampleConfig = {
    length: flags.length ?? d.length,
    temperature: flags.temperature ?? d.temperature,
    prime: flags.prime ?? d.prime,
    seed: flags.seed ?? d.seed,
    argmax: flags.argmax ?? d.argmax,
    topK: flags.topK ?? d.topK,
    count,
  };
  // One sample streams as it is generated; several are printed one after another when done. Writes are
  // synchronous, so a reader that goes away (rnn sample | head) stops generation at once.
  let pending = "";
  try {
    const samples = sample(model, meta.vocab, opts, (k, ch) => {
      if (count > 1 || k !== 0) return;
      pending += ch;
      if (pending.length >= 64 || ch === "\n") {
        write(pending);
        pending = "";
      }
    });
    if (count === 1) write(`${pending}\n`);
    else samples.forEach((s, k) => write(`${k ? "\n" : ""}── sample ${k + 1} of ${count} ──\n${s}\n`));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPIPE") throw e;
  }
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
