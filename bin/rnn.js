#!/usr/bin/env node
// The `rnn` entry point: registers tsx (TypeScript on the fly) and runs the CLI.
import { register } from "tsx/esm/api";

register();
// A reader that goes away (rnn sample | head) counts as Ctrl-C, once: training stops after the step and saves,
// anything else ends at once; never a stack trace.
let pipeClosed = false;
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err) => {
    if (err.code !== "EPIPE") throw err;
    if (!pipeClosed) process.kill(process.pid, "SIGINT");
    pipeClosed = true;
  });
}
const { main } = await import("../src/cli/main.ts");
const code = await main(process.argv);
process.exitCode = code;
