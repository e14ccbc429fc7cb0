#!/usr/bin/env node
// The `rnn` entry point: registers tsx (TypeScript on the fly) and runs the CLI.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
const code = await main(process.argv);
process.exitCode = code;
