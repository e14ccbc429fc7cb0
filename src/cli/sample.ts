// `rnn sample`: load a checkpoint, generate, stream to stdout.
import fs from "node:fs";
import { UsageError } from "../errors.ts";
import { selectKernels, type KernelChoice } from "../kernels/index.ts";
import { sample } from "../sample/sample.ts";
import { loadModel } from "../checkpoint/checkpoint.ts";

export interface SampleFlags {
  model: string;
  length?: number;
  temperature?: number;
  prime?: string;
  seed?: number;
  argmax?: boolean;
  topK?: number;
  count?: number;
  kernels?: KernelChoice;
}

export async function sampleCommand(flags: SampleFlags): Promise<void> {
  if (flags.argmax && flags.topK !== undefined) throw new UsageError("--argmax and --top-k exclude each other");
  const ops = await selectKernels(flags.kernels);
  const { model, meta } = loadModel(flags.model, ops);
  await ops.startHelper?.(); // large models: the kernels share each step's matrix-vector products with a second core
  const count = flags.count ?? 1;
  const opts = {
    length: flags.length ?? 1000,
    temperature: flags.temperature ?? 1,
    prime: flags.prime ?? "",
    seed: flags.seed ?? 42,
    argmax: !!flags.argmax,
    topK: flags.topK ?? 0,
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
