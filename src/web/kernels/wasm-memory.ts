// Browser stand-in for src/kernels/wasm-memory.ts (package.json's "browser" map): the same bump allocator
// (64-byte aligned, never frees) over a NON-shared WebAssembly.Memory, which a page has without cross-origin
// isolation. A non-shared memory detaches every view of its old buffer when it grows, and the model's
// arrays are such views, so this memory never grows: it is made with `initialPages` (the library's browser
// loadModel sizes it from the checkpoint) and running out is one clear error.
import type { Arr } from "../../kernels/types.ts";
import type { WasmMemory, WasmMemoryOptions } from "../../kernels/wasm-memory.ts";

const PAGE = 65536;
const ALIGN = 64;
const HEAP_START = 64;

export type { WasmMemory, WasmMemoryOptions };

export function openWasmMemory(opts: WasmMemoryOptions = {}): WasmMemory {
  if (opts.memory) throw new Error("rnn in a browser: kernels cannot share a memory (no SharedArrayBuffer)");
  const pages = opts.initialPages ?? 1024;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const buf = memory.buffer as ArrayBuffer;
  let next = HEAP_START;
  let build: boolean | null = null;

  function reserve(bytes: number): number {
    const size = Math.ceil(Math.max(bytes, 1) / ALIGN) * ALIGN;
    if (next + size > buf.byteLength) {
      throw new RangeError(`rnn in a browser: the kernels' memory (${buf.byteLength >> 20} MiB) is full (asked for ${bytes} more bytes)`);
    }
    const off = next;
    next += size;
    return off;
  }
  function alloc(n: number): Float32Array {
    return new Float32Array(buf, reserve(n * 4), n); // fresh memory is zero and is never handed out twice
  }
  function offset(name: string, a: Arr, n: number): number {
    if (!(a instanceof Float32Array) || a.buffer !== buf) throw new TypeError(`wasm kernels: ${name} is not a Float32Array in this backend's memory (use its alloc())`);
    if (a.length < n) throw new RangeError(`wasm kernels: ${name} has ${a.length} elements, needs ${n}`);
    return a.byteOffset;
  }
  let idxCap = 0, idxOff = 0, idxView = new Int32Array(0);
  function int32(name: string, idx: Int32Array, n: number): number {
    if (idx.length < n) throw new RangeError(`wasm kernels: ${name} has ${idx.length} elements, needs ${n}`);
    if (idx.buffer === buf) return idx.byteOffset;
    if (n > idxCap) {
      idxCap = Math.max(n, 2 * idxCap, 1024);
      idxOff = reserve(idxCap * 4);
      idxView = new Int32Array(buf, idxOff, idxCap);
    }
    idxView.set(idx.length === n ? idx : idx.subarray(0, n));
    return idxOff;
  }
  return {
    memory,
    get firstBuild() {
      return build;
    },
    recordBuild(relaxed: boolean) {
      build ??= relaxed;
    },
    reserve,
    alloc,
    offset,
    int32,
  };
}
