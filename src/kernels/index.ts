// Choosing the kernel backend: the WebAssembly SIMD kernels when this Node can run them, else the
// TypeScript reference. `RNN_KERNELS=ref|wasm` (or the CLI's --kernels) forces one.
import { refF32 } from "./ref.ts";
import type { Kernels } from "./types.ts";

export type KernelChoice = "auto" | "wasm" | "ref";

let wasmFactory: ((opts?: object) => Kernels) | null | undefined;

async function loadWasm(): Promise<((opts?: object) => Kernels) | null> {
  if (wasmFactory !== undefined) return wasmFactory;
  try {
    const mod = await import("./wasm.ts");
    wasmFactory = mod.createWasmKernels as (opts?: object) => Kernels;
  } catch {
    wasmFactory = null;
  }
  return wasmFactory;
}

/** A fresh backend (each has its own memory). */
export async function selectKernels(choice: KernelChoice = (process.env.RNN_KERNELS as KernelChoice) || "auto"): Promise<Kernels> {
  if (choice === "ref") return refF32;
  const f = await loadWasm();
  if (f) return f();
  if (choice === "wasm") throw new Error("the WebAssembly kernels are not available in this Node.js");
  return refF32;
}
