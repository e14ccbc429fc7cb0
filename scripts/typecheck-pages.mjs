#!/usr/bin/env node
// Type-checks the browser pages (src/web/page/, with DOM types: src/web/page/tsconfig.json). The root
// tsconfig compiles the Node code without DOM (src/kernels/webassembly.d.ts declares the slice of
// WebAssembly it uses), so the pages get their own program. That program reaches, through the library's
// imports, the Node-only kernel files that package.json's "browser" map replaces in every browser bundle;
// under DOM's types they do not check, and they never run in a page: their diagnostics are left out (the
// root `tsc --noEmit` checks them). Any other error fails. Exit 0 = clean.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("..", import.meta.url));
const configFile = path.join(root, "src/web/page/tsconfig.json");
const swapped = new Set(Object.keys(JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).browser ?? {})
  .filter((k) => k.startsWith("./")).map((k) => path.join(root, k)));

const { config, error } = ts.readConfigFile(configFile, ts.sys.readFile);
if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, "\n"));
const parsed = ts.parseJsonConfigFileContent(config, ts.sys, path.dirname(configFile));
const program = ts.createProgram(parsed.fileNames, parsed.options);
const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => !(d.file && swapped.has(path.normalize(d.file.fileName))));
if (diagnostics.length) {
  process.stderr.write(ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => "\n" }));
  process.exit(1);
}
console.log(`pages type-check: ${parsed.fileNames.length} files, clean (${swapped.size} Node-only files the browser map replaces left out)`);
