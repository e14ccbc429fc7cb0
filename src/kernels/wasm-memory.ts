// The WebAssembly kernels' allocator: one shared WebAssembly.Memory, a bump allocator over it (64-byte
// aligned, never frees), its growth, and the views the kernels accept.
//
// The allocator's header lives in the memory itself (HEADER), so every thread that opens the same memory
// (one kernel instance per worker) allocates from it without overlap: a random id of the memory, the next
// free byte (bumped with Atomics), and the build (plain / relaxed SIMD) of the first instance, which later
// instances follow unless told otherwise, so every thread rounds alike.
//
// Every Float32Array handed to a kernel must be a view of this memory (checked, with a clear error
// otherwise). Growing shared memory never detaches a view, but `memory.buffer` is a new SharedArrayBuffer
// object after a grow (and in each thread), so a buffer is recognised by the memory id in its first bytes,
// once, then remembered. Int32Array index arrays may be plain JS arrays: they are copied into a scratch
// area of this opening (an Int32Array that already lives in this memory is used in place).
import type { Arr } from "./types.ts";

const MAX_PAGES = 65536; // 4 GiB, the wasm32 limit
const PAGE = 65536;

/**
 * The kernels asked for more memory than they may have: `limit` bytes in all (4 GiB, the wasm32 limit, or
 * RNN_WASM_MAX_MEMORY), or more than the system would give when growing. Callers that know what the memory was
 * for say which setting is too large (src/model/memory.ts).
 */
export class KernelMemoryError extends RangeError {
  override name = "KernelMemoryError";
  constructor(readonly asked: number, readonly limit: number, why: string) {
    super(`wasm kernels: ${why} (asked for ${asked} bytes)`);
  }
}

/**
 * The most memory the WebAssembly kernels may use, in bytes: 4 GiB (the wasm32 limit), or less where
 * RNN_WASM_MAX_MEMORY says so (bytes, or with a unit: 512M, 2G; e.g. to stay within a container's memory).
 */
export function wasmMemoryLimit(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.RNN_WASM_MAX_MEMORY?.trim();
  if (!raw) return MAX_PAGES * PAGE;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(raw);
  if (!m) throw new Error(`RNN_WASM_MAX_MEMORY must be a size such as 512M or 2G, got '${raw}'`);
  const bytes = Math.floor(Number(m[1]) * 1024 ** " kmg".indexOf((m[2] || " ").toLowerCase()));
  return Math.max(PAGE, Math.min(MAX_PAGES * PAGE, Math.floor(bytes / PAGE) * PAGE));
}
const ALIGN = 64;
/** uint32 words of the header at byte 0 */
const HEADER = { id: 0, next: 1, build: 2, words: 3 } as const;
/** bytes [0, HEAP_START) are the header; offset 0 never names an array (a kernel's "none") */
const HEAP_START = 64;
/** values of HEADER.build; 0 = no instance yet */
const BUILD_PLAIN = 1, BUILD_RELAXED = 2;

export interface WasmMemoryOptions {
  /** open an existing shared memory (e.g. one a worker received) instead of a new one */
  memory?: WebAssembly.Memory;
  /** initial size of a new memory in 64 KiB pages (default 256 = 16 MiB; it grows as needed) */
  initialPages?: number;
}

export interface WasmMemory {
  readonly memory: WebAssembly.Memory;
  /** the build (relaxed SIMD or not) the first instance over this memory recorded, or null if none yet */
  readonly firstBuild: boolean | null;
  /** records `relaxed` as this memory's build unless one is recorded already */
  recordBuild(relaxed: boolean): void;
  /** reserves `bytes` (64-byte aligned, growing the memory as needed) and returns the byte offset */
  reserve(bytes: number): number;
  /** a zeroed Float32Array of n elements in this memory */
  alloc(n: number): Float32Array;
  /**
   * The byte offset of `a`, checked: a Float32Array view of this memory with at least n elements (`name`
   * names it in the error).
   */
  offset(name: string, a: Arr, n: number): number;
  /** the byte offset of idx[0..n) in this memory: idx itself if it lives there, else a copy in scratch */
  int32(name: string, idx: Int32Array, n: number): number;
}

/** Opens `opts.memory` (or a new shared memory) for allocation from this thread. */
export function openWasmMemory(opts: WasmMemoryOptions = {}): WasmMemory {
  const limit = wasmMemoryLimit();
  const memory = opts.memory ?? new WebAssembly.Memory({ initial: Math.min(opts.initialPages ?? 256, limit / PAGE), maximum: MAX_PAGES, shared: true });
  if (!(memory.buffer instanceof SharedArrayBuffer)) throw new Error("wasm kernels need a shared WebAssembly.Memory");
  let buf = memory.buffer as SharedArrayBuffer;
  const header = new Uint32Array(buf, 0, HEADER.words);
  Atomics.compareExchange(header, HEADER.id, 0, 1 + Math.floor(Math.random() * 0x7ffffffe));
  Atomics.compareExchange(header, HEADER.next, 0, HEAP_START);
  const id = Atomics.load(header, HEADER.id);

  const known = new WeakSet<ArrayBufferLike>([buf]);
  /** is b (a SharedArrayBuffer object of any thread or size) this memory? */
  const isOwn = (b: ArrayBufferLike): boolean => {
    if (known.has(b)) return true;
    if (!(b instanceof SharedArrayBuffer) || b.byteLength < 8 || new Uint32Array(b, 0, 1)[0] !== id) return false;
    known.add(b);
    return true;
  };

  function reserve(bytes: number): number {
    const size = Math.ceil(Math.max(bytes, 1) / ALIGN) * ALIGN;
    const off = Atomics.add(header, HEADER.next, size);
    const end = off + size;
    if (end > limit || off < HEAP_START) throw new KernelMemoryError(bytes, limit, "out of memory");
    const have = memory.buffer.byteLength;
    if (end > have) {
      try {
        memory.grow(Math.ceil((end - have) / PAGE));
      } catch {
        // another thread may have grown it meanwhile
        if (memory.buffer.byteLength < end) throw new KernelMemoryError(bytes, limit, `cannot grow memory to ${end} bytes`);
      }
    }
    if (memory.buffer !== buf) {
      buf = memory.buffer as SharedArrayBuffer;
      known.add(buf);
    }
    return off;
  }

  function alloc(n: number): Float32Array {
    const off = reserve(n * 4); // may grow the memory and renew buf: read buf after it
    const a = new Float32Array(buf, off, n);
    a.fill(0);
    return a;
  }

  function offset(name: string, a: Arr, n: number): number {
    if (!(a instanceof Float32Array) || !isOwn(a.buffer)) {
      throw new TypeError(`wasm kernels: ${name} is not a Float32Array in this backend's memory (use its alloc())`);
    }
    if (a.length < n) throw new RangeError(`wasm kernels: ${name} has ${a.length} elements, needs ${n}`);
    return a.byteOffset;
  }

  // scratch for index arrays from elsewhere, grown (by a new reservation) as needed
  let idxCap = 0;
  let idxOff = 0;
  let idxView: Int32Array = new Int32Array(0);
  function int32(name: string, idx: Int32Array, n: number): number {
    if (idx.length < n) throw new RangeError(`wasm kernels: ${name} has ${idx.length} elements, needs ${n}`);
    if (isOwn(idx.buffer)) return idx.byteOffset;
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
      const b = Atomics.load(header, HEADER.build);
      return b === 0 ? null : b === BUILD_RELAXED;
    },
    recordBuild(relaxed: boolean) {
      Atomics.compareExchange(header, HEADER.build, 0, relaxed ? BUILD_RELAXED : BUILD_PLAIN);
    },
    reserve,
    alloc,
    offset,
    int32,
  };
}
