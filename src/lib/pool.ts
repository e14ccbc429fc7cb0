// Kernels whose working buffers are recycled. The kernels' allocator never frees (a command runs once and
// exits), while a program or a page asks a model thousands of questions: each predict(), score() and
// generate() builds a workspace and a state. pooled(ops) hands out the same kernels with an alloc() that,
// inside a scope, takes buffers from a free list and gives them back when the scope ends; outside any scope
// (the model's parameters) it allocates for good. Buffers come in power-of-two sizes (a view of the first n
// elements is handed out), so the pool holds at most a few dozen sizes; a reused buffer is zeroed, as alloc
// promises. Where buffers live changes nothing computed: every one is 64-byte aligned in the same memory.
import type { Arr, Kernels } from "../kernels/types.ts";

export interface Scope {
  /** the buffers this scope holds */
  readonly held: Arr[];
  closed: boolean;
}

export interface PooledKernels extends Kernels {
  /** runs fn with the buffers it allocates counted to `scope` (a new one by default), then, if fn made the
   *  scope, frees them */
  within<T>(fn: () => T, scope?: Scope): T;
  /** a scope to use across several within() calls (a generation that streams); close() frees its buffers */
  openScope(): Scope;
  close(scope: Scope): void;
}

export function pooled(ops: Kernels): PooledKernels {
  const free = new Map<number, Arr[]>(); // power-of-two size → free buffers of that size
  let current: Scope | null = null;
  const sizeOf = (n: number) => (n <= 16 ? 16 : 2 ** Math.ceil(Math.log2(n)));
  const whole = new WeakMap<Arr, Arr>(); // view handed out → its whole buffer

  function alloc(n: number): Arr {
    if (!current) return ops.alloc(n);
    const size = sizeOf(n);
    let buf = free.get(size)?.pop();
    if (buf) buf.fill(0);
    else buf = ops.alloc(size);
    const view = buf.subarray(0, n);
    whole.set(view, buf);
    current.held.push(view);
    return view;
  }

  function close(scope: Scope): void {
    if (scope.closed) return;
    scope.closed = true;
    for (const v of scope.held) {
      const buf = whole.get(v)!;
      const list = free.get(buf.length) ?? [];
      list.push(buf);
      free.set(buf.length, list);
    }
    scope.held.length = 0;
  }

  const openScope = (): Scope => ({ held: [], closed: false });

  function within<T>(fn: () => T, scope?: Scope): T {
    const s = scope ?? openScope();
    if (s.closed) throw new Error("rnn: this generation has ended");
    const outer = current;
    current = s;
    try {
      return fn();
    } finally {
      current = outer;
      if (!scope) close(s);
    }
  }

  return { ...ops, alloc, within, openScope, close };
}
