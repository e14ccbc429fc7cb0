// Browser stand-in for src/kernels/wasm-module.ts (swapped in by package.json's "browser" map): the same two
// committed builds, embedded in the bundle (esbuild's binary loader) instead of read from disk, compiled
// once by loadKernelModule() — a page may not compile a 38 KB module synchronously on its main thread — and
// instantiated over a NON-shared memory: pages opened from file:// are not cross-origin isolated, so they have
// no SharedArrayBuffer. The modules declare an imported shared memory; the copy compiled here has that one
// flag byte of the import cleared (0x03 "shared, with maximum" → 0x01 "with maximum") and every instruction
// as built, so the kernels compute bit for bit what they compute in Node.
import plainBytes from "../../kernels/kernels.wasm";
import relaxedBytes from "../../kernels/kernels-relaxed.wasm";
import type { Exports } from "../../kernels/wasm-module.ts";

export type { Exports };

const modules = new Map<boolean, WebAssembly.Module>();
let relaxedOk: boolean | null = null;

/** The bytes of one build with its memory import made non-shared. */
export function unsharedBuild(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes);
  let p = 8; // magic + version
  const leb = (): number => {
    let v = 0, shift = 0, b: number;
    do {
      b = out[p++];
      v |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    return v >>> 0;
  };
  while (p < out.length) {
    const id = out[p++], size = leb(), end = p + size;
    if (id === 2) {
      // the import section: module name, field name, kind, description
      for (let n = leb(); n > 0; n--) {
        const moduleName = leb();
        p += moduleName;
        const fieldName = leb();
        p += fieldName;
        const kind = out[p++];
        if (kind === 0) leb(); // function: type index
        else if (kind === 1) { p++; const f = out[p++]; leb(); if (f & 1) leb(); } // table
        else if (kind === 3) p += 2; // global: type, mutability
        else if (kind === 2) {
          if (out[p] === 0x03) out[p] = 0x01;
          return out;
        }
      }
    }
    p = end;
  }
  throw new Error("rnn: the kernel module imports no memory");
}

/** Does this browser run the relaxed-SIMD build? (Node's rule: the best build the runtime validates.) */
export function relaxedSimdSupported(): boolean {
  relaxedOk ??= WebAssembly.validate(unsharedBuild(relaxedBytes));
  return relaxedOk;
}

/** Compiles the build this browser will run (asynchronously, as pages must); call before kernelModule(). */
export async function loadKernelModule(relaxed = relaxedSimdSupported()): Promise<void> {
  if (!modules.has(relaxed)) modules.set(relaxed, await WebAssembly.compile(unsharedBuild(relaxed ? relaxedBytes : plainBytes)));
}

export function kernelModule(relaxed: boolean): WebAssembly.Module {
  const m = modules.get(relaxed);
  if (!m) throw new Error("rnn: the WebAssembly kernels are not compiled yet (await loadKernelModule() first)");
  return m;
}

export function instantiate(relaxed: boolean, memory: WebAssembly.Memory): Exports {
  return new WebAssembly.Instance(kernelModule(relaxed), { env: { memory } }).exports as unknown as Exports;
}
