#!/usr/bin/env node
// Builds the WebAssembly kernels from src/kernels/asm/ (AssemblyScript, a devDependency) into the two
// committed artifacts the runtime loads:
//   src/kernels/kernels.wasm          128-bit SIMD
//   src/kernels/kernels-relaxed.wasm  + relaxed SIMD (fused multiply-add)
// `--check` rebuilds in memory and exits 1 if either artifact differs from what a build would write.
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const common = [
  "src/kernels/asm/index.ts",
  "--enable", "simd", "--enable", "threads",
  "--runtime", "stub", "-O3", "--noAssert",
  "--importMemory", "--sharedMemory", "--initialMemory", "1", "--maximumMemory", "65536", "--noExportMemory",
];
const targets = [
  { out: "src/kernels/kernels.wasm", flags: [] },
  { out: "src/kernels/kernels-relaxed.wasm", flags: ["--enable", "relaxed-simd"] },
];

async function compile(asc, flags) {
  let bytes = null;
  let log = "";
  const sink = { write: (s) => { log += s; return true; } };
  const { error } = await asc.main([...common, ...flags, "--outFile", "out.wasm"], {
    stdout: sink,
    stderr: sink,
    writeFile: (name, contents) => { if (name.endsWith(".wasm")) bytes = contents; },
  });
  if (error) throw new Error(`asc failed: ${error.message}\n${log}`);
  if (!bytes) throw new Error(`asc produced no binary\n${log}`);
  return Buffer.from(bytes);
}

async function main() {
  const check = process.argv.includes("--check");
  let asc;
  try {
    asc = await import("assemblyscript/asc");
  } catch {
    console.error("build-wasm: assemblyscript is not installed (npm install)");
    process.exit(2);
  }
  process.chdir(root);
  let stale = 0;
  for (const t of targets) {
    const bytes = await compile(asc, t.flags);
    if (check) {
      const have = await readFile(t.out).catch(() => null);
      const same = have !== null && Buffer.compare(have, bytes) === 0;
      if (!same) stale++;
      console.log(`${same ? "ok   " : "STALE"} ${t.out} (${bytes.length} bytes)`);
    } else {
      await writeFile(t.out, bytes);
      console.log(`wrote ${t.out} (${bytes.length} bytes)`);
    }
  }
  if (stale) {
    console.error(`build-wasm: ${stale} artifact(s) differ from the sources; run node scripts/build-wasm.mjs`);
    process.exit(1);
  }
}

await main();
